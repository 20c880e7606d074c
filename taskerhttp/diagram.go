package taskerhttp

import (
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/tasker-go/tasker/internal/apiview"
)

var diagramFormats = []string{"mermaid", "json", "svg", "html"}

// diagramFormat picks the format from ?format= or else the Accept header
// (highest q first); the default is json.
func diagramFormat(r *http.Request) (string, error) {
	if f := r.URL.Query().Get("format"); f != "" {
		for _, ok := range diagramFormats {
			if f == ok {
				return f, nil
			}
		}
		return "", badParam("format", "%q is not allowed; allowed: %s", f, strings.Join(diagramFormats, ", "))
	}
	type choice struct {
		media string
		q     float64
	}
	var choices []choice
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q > 0 {
			choices = append(choices, choice{mt, q})
		}
	}
	sort.SliceStable(choices, func(i, j int) bool { return choices[i].q > choices[j].q })
	for _, c := range choices {
		switch c.media {
		case "text/vnd.mermaid", "text/plain":
			return "mermaid", nil
		case "application/json":
			return "json", nil
		case "image/svg+xml":
			return "svg", nil
		case "text/html":
			return "html", nil
		}
	}
	return "json", nil
}

func (s *server) taskDiagram(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "task_id")
	if err != nil {
		return err
	}
	format, err := diagramFormat(r)
	if err != nil {
		return err
	}
	task, steps, err := s.taskWithSteps(r.Context(), id)
	if err != nil {
		return err
	}
	d := apiview.NewDiagram(task, steps)
	w.Header().Set("Vary", "Accept")
	switch format {
	case "mermaid":
		writeText(w, "text/vnd.mermaid; charset=utf-8", d.Mermaid())
	case "svg":
		writeText(w, "image/svg+xml", d.SVG())
	case "html":
		writeText(w, "text/html; charset=utf-8", d.HTML())
	default:
		writeJSON(w, http.StatusOK, d.JSON())
	}
	return nil
}

func writeText(w http.ResponseWriter, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
}
