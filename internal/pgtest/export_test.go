package pgtest

// TemplateName returns the name of the template database of a schema
// version set with SetMigrateVersion, for tests.
func TemplateName(version string) string { return templateName(versionKey(version)) }
