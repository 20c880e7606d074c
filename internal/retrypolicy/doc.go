// Package retrypolicy computes when a failed step may be attempted again
// (ARCHITECTURE §1 "Backoff"). It is pure arithmetic: callers pass the
// clock and, optionally, the random source.
//
// After a failure the next attempt waits either the delay the server or
// handler asked for (Retry-After, an explicit request), capped at
// MaxBackoff and without jitter, or Base·2^(attempts-1) with ±Jitter
// jitter, capped at MaxExponential.
//
// Imports: the standard library only.
package retrypolicy
