// Package permission holds the one rule of what a permission (or a grant)
// looks like: "*", or "resource:action" with the original engine's names
// ("tasker.task:index"), "*" standing for every action of a resource
// ("tasker.task:*"). The root package checks the permissions of the API
// tokens it stores with it, and taskerauth the grants a person types (role
// maps) and the ones it compares; both call Problem, so the two can never
// disagree about a permission.
//
// It imports only the standard library.
package permission
