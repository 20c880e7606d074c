package taskerauth

import (
	"testing"
)

// A key set from the network never panics the parser, and every key it
// returns has a key and at least one algorithm.
func FuzzParseJWKS(f *testing.F) {
	for _, seed := range []string{
		`{"keys": []}`,
		`{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}`,
		`{"keys": [{"kty": "RSA", "n": "` + "xjlCRBqkOmkFhrTMRq_fs7lcZXn-4OsGpIjCbCJhX-s6ip6uBZlsR8Hfrd-sWEr5dLpGz4kbXcbYaBiGxbb6wEQFjJBDlC8u_YrQrDdbGdJqk8RWTVeN2HwhIjSupp-zeQmvIV9WCSQbyM54RkfDDQ_U-N_7bHxUzbtRBpqGrRHBr-P_wK3_C9azcUGjVDv6Mh-mNwM3VfIqr2X0wamKDOABC87jSp2ciHBqFJvwAy6r8RDGVfLEwa-n-qIcNvgAO1eYEkRjUY9-I8w-Lp_g7bq3VAWMowxyhygg_gL-kz_2-FB0P9OzGnMCqUM8wXKbg" + `", "e": "AQAB"}]}`,
		`{"keys": [{"kty": "EC", "crv": "P-256", "x": "AQAB", "y": "AQAB"}]}`,
		`{"keys": [{"kty": "EC", "crv": "P-521", "alg": "ES512", "x": "", "y": ""}]}`,
		`{"keys": [{"kty": "RSA", "use": "enc"}, {"kty": "oct", "k": "AQAB"}]}`,
		`{"keys": null}`,
		`[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parseJWKS(data)
		if err != nil {
			if len(keys) != 0 {
				t.Fatalf("keys %v with error %v", keys, err)
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("no keys and no error")
		}
		for _, k := range keys {
			if k.key == nil || len(k.algs) == 0 {
				t.Fatalf("key %+v is unusable", k)
			}
		}
	})
}
