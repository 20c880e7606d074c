package taskersub

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// WebhookSender POSTs each message as JSON (see Body). With a secret,
// X-Tasker-Signature carries "sha256=" and the hex HMAC-SHA256 of the body
// (see Sign). Any 2xx answer is a delivery.
type WebhookSender struct {
	URL     string
	Secret  string
	Headers map[string]string
	// Timeout of one request. Defaults to 10s.
	Timeout time.Duration
	// Client defaults to http.DefaultClient.
	Client *http.Client
}

// Sign returns the X-Tasker-Signature value of body under secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Send implements Sender.
func (w *WebhookSender) Send(ctx context.Context, m *Message) error {
	body, err := Body(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(w.Timeout, 10*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Tasker-Event", m.EventName)
	req.Header.Set("X-Tasker-Delivery", m.DeliveryID())
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	if w.Secret != "" {
		req.Header.Set("X-Tasker-Signature", Sign(w.Secret, body))
	}
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("webhook %s: no answer within %s", w.URL, cmp.Or(w.Timeout, 10*time.Second))
		}
		return fmt.Errorf("webhook %s: %w", w.URL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook %s answered %s: %s", w.URL, resp.Status, bytes.TrimSpace(snippet))
	}
	return nil
}

// webhookTarget builds the sender of a webhook subscription.
func webhookTarget(cfg map[string]any) (Target, error) {
	url, _ := cfg["url"].(string)
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return Target{}, errors.New("config.url must be an http(s) URL")
	}
	for k := range cfg {
		switch k {
		case "url", "secret", "timeout", "headers", "max_attempts", "backoff":
		default:
			return Target{}, fmt.Errorf("config.%s is unknown: use url, secret, timeout, headers, max_attempts, backoff", k)
		}
	}
	wh := &WebhookSender{URL: url, Headers: map[string]string{}}
	wh.Secret, _ = cfg["secret"].(string)
	var err error
	if wh.Timeout, err = ConfigDuration(cfg, "timeout"); err != nil {
		return Target{}, err
	}
	if h, ok := cfg["headers"].(map[string]any); ok {
		for k, v := range h {
			wh.Headers[k] = fmt.Sprint(v)
		}
	}
	t := Target{Sender: wh}
	if err := ConfigLimits(cfg, &t); err != nil {
		return Target{}, err
	}
	return t, nil
}
