package taskerdriver

import (
	"time"

	"github.com/tasker-go/tasker/taskertype"
)

// TemplateRegisterParams describes a template to register.
type TemplateRegisterParams struct {
	Namespace, Name, Version string
	// Hash is the hex SHA-256 of Definition.
	Hash string
	// Definition is the template's canonical JSON form.
	Definition   []byte
	Source       string
	RegisteredBy string
	// Replace stores Definition over other content of the same version.
	Replace bool
	Now     time.Time
}

// TemplateRegisterOutcome says what TemplateRegister did.
type TemplateRegisterOutcome string

// The outcomes of TemplateRegister.
const (
	// TemplateCreated: the version was not registered; it is now.
	TemplateCreated TemplateRegisterOutcome = "created"
	// TemplateUnchanged: the version was registered with the same content.
	TemplateUnchanged TemplateRegisterOutcome = "unchanged"
	// TemplateReplaced: other content of the version was replaced
	// (Replace was set).
	TemplateReplaced TemplateRegisterOutcome = "replaced"
	// TemplateConflict: other content of the version is registered and
	// Replace was not set; nothing was written.
	TemplateConflict TemplateRegisterOutcome = "conflict"
)

// TemplateRegisterResult is the outcome of TemplateRegister.
type TemplateRegisterResult struct {
	Outcome TemplateRegisterOutcome
	// Template is the row stored after the call, without its definition:
	// on TemplateConflict, the other registration.
	Template *taskertype.RegisteredTemplate
}

// TemplateGetParams names one registered template.
type TemplateGetParams struct {
	Namespace, Name, Version string
}

// TemplateListParams selects registered templates. Zero values do not
// filter.
type TemplateListParams struct {
	Namespace, Name string
	// WithDefinition returns the definitions too.
	WithDefinition bool
}
