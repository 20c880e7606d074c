// Package taskertype holds the persisted types of Tasker for Go: tasks, steps,
// their states and their audit transitions, the annotations recorded about
// tasks (TaskAnnotation, AnnotationType), the outbox messages of durable
// subscriptions (OutboxMessage), the templates registered in the database
// (RegisteredTemplate), and the static dependency report of a
// template (TemplateAnalysis). It imports only the standard
// library, so every other package (the root tasker package, the driver seam,
// the drivers and internal mechanics) can share it without import cycles.
package taskertype
