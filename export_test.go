package tasker

// CanonicalOf and ParseCanonical expose a template's canonical form (what
// the database stores of it) to the tests.
func CanonicalOf(t *TaskTemplate) (data []byte, hash string, err error) { return t.canonical() }

// ParseCanonical reads a canonical form back.
func ParseCanonical(data []byte) (*TaskTemplate, error) { return parseCanonical("test", data) }
