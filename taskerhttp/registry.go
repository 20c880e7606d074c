package taskerhttp

import (
	_ "embed"
	"net/http"
	"time"

	"github.com/tasker-go/tasker/internal/apiview"
)

func (s *server) listNamespaces(w http.ResponseWriter, _ *http.Request) error {
	namespaces := apiview.Namespaces(s.c.Registry())
	writeJSON(w, http.StatusOK, map[string]any{
		"namespaces": namespaces, "total_namespaces": len(namespaces), "generated_at": time.Now().UTC(),
	})
	return nil
}

func (s *server) listHandlers(w http.ResponseWriter, r *http.Request) error {
	ns := r.PathValue("namespace")
	handlers, err := apiview.Handlers(s.c.Registry(), ns)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespace": ns, "handlers": handlers, "total_handlers": len(handlers)})
	return nil
}

func (s *server) getHandler(w http.ResponseWriter, r *http.Request) error {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	tmpl, err := s.c.Registry().Template(ns, name, r.URL.Query().Get("version"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"handler": apiview.NewHandler(s.c.Registry(), tmpl), "generated_at": time.Now().UTC()})
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
