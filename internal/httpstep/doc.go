// Package httpstep is the mechanics of the built-in "http" step handler and
// of the Go helper taskerhttpstep.Call: it builds a request from a Config
// (placeholders from the task context and dependency results, credentials
// from the environment, TLS options, a per-host rate limit), sends it and
// classifies the answer the way the original engine's API step handler did,
// with its defects fixed: 2xx is a result; 429 and 503 are retryable after
// the server's Retry-After (delta-seconds or HTTP-date); 408, 425 and other
// 5xx are retryable; any other status is permanent; network errors and
// timeouts are retryable.
//
// It is the engine shared by the built-in handler (registered by the root
// package) and the public package taskerhttpstep; its errors report the
// class "*tasker.HTTPError" and their details through the root package's
// optional error interfaces, without importing it. It imports the standard
// library, golang.org/x/time/rate, internal/retrypolicy and internal/names
// only, never the root package.
package httpstep
