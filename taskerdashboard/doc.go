// Package taskerdashboard is the web dashboard of tasker serve: pages to
// see and operate every workflow from a browser (/, /tasks, /tasks/{id},
// /templates, /templates/{namespace}/{name}/{version}, /dead-letters,
// /sign-in), embedded in the binary and working offline.
//
// It is an adapter, like taskerhttp and taskergraphql: its pages read and
// act through the REST API (/tasker/...) with the same credentials and
// permissions, so every action is authorized and audited as REST's. It
// adds only what a browser needs and an API does not: sign-in into an
// HttpOnly session cookie (which taskerauth.BearerToken accepts as the
// credential), the session's permissions (so that a page disables what
// its user may not do), and a live feed of state changes as Server-Sent
// Events.
//
// It may import the root package and taskerauth; taskerhttp mounts it
// (Options.Dashboard), behind the API's Host and cross-origin checks.
package taskerdashboard
