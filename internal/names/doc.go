// Package names holds the rules about names that several rooms share: what
// an environment variable name is (template substitution in
// internal/tmplfile, the http step's credentials in internal/httpstep) and
// the edit distance behind "did you mean" suggestions (internal/dag,
// internal/tmplfile). It imports only the standard library.
package names
