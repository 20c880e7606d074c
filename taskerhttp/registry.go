package taskerhttp

import (
	_ "embed"
	"net/http"
	"time"

	"github.com/tasker-go/tasker/internal/apiview"
)

func (s *server) listNamespaces(w http.ResponseWriter, r *http.Request) error {
	reg, err := s.c.TemplateCatalog(r.Context())
	if err != nil {
		return err
	}
	namespaces := apiview.Namespaces(reg)
	writeJSON(w, http.StatusOK, map[string]any{
		"namespaces": namespaces, "total_namespaces": len(namespaces), "generated_at": time.Now().UTC(),
	})
	return nil
}

func (s *server) listHandlers(w http.ResponseWriter, r *http.Request) error {
	ns := r.PathValue("namespace")
	reg, err := s.c.TemplateCatalog(r.Context())
	if err != nil {
		return err
	}
	handlers, err := apiview.Handlers(reg, ns)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespace": ns, "handlers": handlers, "total_handlers": len(handlers)})
	return nil
}

func (s *server) getHandler(w http.ResponseWriter, r *http.Request) error {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	reg, err := s.c.TemplateCatalog(r.Context())
	if err != nil {
		return err
	}
	tmpl, err := reg.Template(ns, name, r.URL.Query().Get("version"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"handler": apiview.NewHandler(reg, tmpl), "generated_at": time.Now().UTC()})
	return nil
}

//go:embed openapi.json
var openAPIDoc []byte

func (s *server) openAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDoc)
	return nil
}
