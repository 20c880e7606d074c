package taskerdrivertest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// templates exercises the templates registered in the database: a first
// registration, the same content again (nothing changes), other content
// (refused, naming the stored registration), an explicit replacement,
// lookups and lists, and concurrent registrations of one key.
func (s *suite) templates(t *testing.T) {
	reg := func(version, hash, by string, replace bool, now time.Time) *taskerdriver.TemplateRegisterParams {
		return &taskerdriver.TemplateRegisterParams{Namespace: "billing", Name: "charge", Version: version, Hash: hash,
			Definition: []byte(`{"name":"charge","hash":"` + hash + `"}`), Source: "/srv/" + by + "/charge.yaml", RegisteredBy: by,
			Replace: replace, Now: now}
	}

	s.run(t, "TemplateRegistry", func(t *testing.T, b *bundle) {
		list, err := b.ex.TemplateList(b.ctx, &taskerdriver.TemplateListParams{})
		require.NoError(t, err)
		require.Empty(t, list, "a new database has no template")
		_, err = b.ex.TemplateGet(b.ctx, &taskerdriver.TemplateGetParams{Namespace: "billing", Name: "charge", Version: "1.0.0"})
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)

		res, err := b.ex.TemplateRegister(b.ctx, reg("1.0.0", "aaaa", "w1", false, base))
		require.NoError(t, err)
		require.Equal(t, taskerdriver.TemplateCreated, res.Outcome)
		require.Equal(t, &taskertype.RegisteredTemplate{Namespace: "billing", Name: "charge", Version: "1.0.0", Hash: "aaaa",
			Source: "/srv/w1/charge.yaml", RegisteredBy: "w1", CreatedAt: base, UpdatedAt: base}, res.Template)

		// The same content again: nothing changes, whoever registers it.
		res, err = b.ex.TemplateRegister(b.ctx, reg("1.0.0", "aaaa", "w2", false, base.Add(time.Minute)))
		require.NoError(t, err)
		require.Equal(t, taskerdriver.TemplateUnchanged, res.Outcome)
		require.Equal(t, "w1", res.Template.RegisteredBy, "the first registration stays")
		require.Equal(t, base, res.Template.UpdatedAt)
		res, err = b.ex.TemplateRegister(b.ctx, reg("1.0.0", "aaaa", "w2", true, base.Add(time.Minute)))
		require.NoError(t, err)
		require.Equal(t, taskerdriver.TemplateUnchanged, res.Outcome, "replacing with the same content changes nothing")

		// Other content of the same version: refused, with the stored row.
		res, err = b.ex.TemplateRegister(b.ctx, reg("1.0.0", "bbbb", "w3", false, base.Add(2*time.Minute)))
		require.NoError(t, err)
		require.Equal(t, taskerdriver.TemplateConflict, res.Outcome)
		require.Equal(t, "aaaa", res.Template.Hash)
		require.Equal(t, "w1", res.Template.RegisteredBy)
		require.Equal(t, "/srv/w1/charge.yaml", res.Template.Source)
		got, err := b.ex.TemplateGet(b.ctx, &taskerdriver.TemplateGetParams{Namespace: "billing", Name: "charge", Version: "1.0.0"})
		require.NoError(t, err)
		require.Equal(t, "aaaa", got.Hash, "a conflict writes nothing")
		require.JSONEq(t, `{"name":"charge","hash":"aaaa"}`, string(got.Definition))

		// Replace is explicit.
		res, err = b.ex.TemplateRegister(b.ctx, reg("1.0.0", "bbbb", "w3", true, base.Add(3*time.Minute)))
		require.NoError(t, err)
		require.Equal(t, taskerdriver.TemplateReplaced, res.Outcome)
		require.Equal(t, &taskertype.RegisteredTemplate{Namespace: "billing", Name: "charge", Version: "1.0.0", Hash: "bbbb",
			Source: "/srv/w3/charge.yaml", RegisteredBy: "w3", CreatedAt: base, UpdatedAt: base.Add(3 * time.Minute)}, res.Template)
		got, err = b.ex.TemplateGet(b.ctx, &taskerdriver.TemplateGetParams{Namespace: "billing", Name: "charge", Version: "1.0.0"})
		require.NoError(t, err)
		require.Equal(t, `{"name":"charge","hash":"bbbb"}`, string(got.Definition), "the definition's bytes are kept as given")
		require.Equal(t, "w3", got.RegisteredBy)

		// Lists: ordered by namespace, name, version; filtered; with the
		// definitions on request only.
		_, err = b.ex.TemplateRegister(b.ctx, reg("1.1.0", "cccc", "w1", false, base))
		require.NoError(t, err)
		other := reg("0.1.0", "dddd", "w1", false, base)
		other.Namespace, other.Name = "alpha", "zeta"
		_, err = b.ex.TemplateRegister(b.ctx, other)
		require.NoError(t, err)
		list, err = b.ex.TemplateList(b.ctx, &taskerdriver.TemplateListParams{})
		require.NoError(t, err)
		keys := make([]string, len(list))
		for i, tm := range list {
			keys[i] = tm.Namespace + "." + tm.Name + "@" + tm.Version
			require.Nil(t, tm.Definition)
		}
		require.Equal(t, []string{"alpha.zeta@0.1.0", "billing.charge@1.0.0", "billing.charge@1.1.0"}, keys)
		list, err = b.ex.TemplateList(b.ctx, &taskerdriver.TemplateListParams{Namespace: "billing", Name: "charge", WithDefinition: true})
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.JSONEq(t, `{"name":"charge","hash":"cccc"}`, string(list[1].Definition))
		list, err = b.ex.TemplateList(b.ctx, &taskerdriver.TemplateListParams{Namespace: "alpha"})
		require.NoError(t, err)
		require.Len(t, list, 1)
		list, err = b.ex.TemplateList(b.ctx, &taskerdriver.TemplateListParams{Name: "nothing"})
		require.NoError(t, err)
		require.Empty(t, list)

		// Inside a rolled back transaction, nothing is stored.
		tx, err := b.ex.Begin(b.ctx)
		require.NoError(t, err)
		_, err = tx.TemplateRegister(b.ctx, reg("9.0.0", "eeee", "tx", false, base))
		require.NoError(t, err)
		require.NoError(t, tx.Rollback(b.ctx))
		_, err = b.ex.TemplateGet(b.ctx, &taskerdriver.TemplateGetParams{Namespace: "billing", Name: "charge", Version: "9.0.0"})
		require.ErrorIs(t, err, taskerdriver.ErrNotFound)
	})

	// Many workers start at once: each registers the same templates, and
	// some a different content of one version. Every call answers; one
	// content is stored per key; the same content is created once and
	// unchanged for the others.
	s.run(t, "TemplateRegisterConcurrent", func(t *testing.T, b *bundle) {
		const n = 8
		var wg sync.WaitGroup
		type answer struct {
			res *taskerdriver.TemplateRegisterResult
			err error
		}
		same := make([]answer, n)
		diff := make([]answer, n)
		for i := range n {
			wg.Go(func() {
				r, err := b.ex.TemplateRegister(b.ctx, reg("1.0.0", "same", fmt.Sprintf("w%d", i), false, base))
				same[i] = answer{r, err}
			})
			wg.Go(func() {
				r, err := b.ex.TemplateRegister(b.ctx, reg("2.0.0", fmt.Sprintf("h%d", i), fmt.Sprintf("w%d", i), false, base))
				diff[i] = answer{r, err}
			})
		}
		wg.Wait()
		count := func(as []answer) map[taskerdriver.TemplateRegisterOutcome]int {
			m := map[taskerdriver.TemplateRegisterOutcome]int{}
			for _, a := range as {
				require.NoError(t, a.err)
				m[a.res.Outcome]++
			}
			return m
		}
		require.Equal(t, map[taskerdriver.TemplateRegisterOutcome]int{taskerdriver.TemplateCreated: 1, taskerdriver.TemplateUnchanged: n - 1}, count(same))
		require.Equal(t, map[taskerdriver.TemplateRegisterOutcome]int{taskerdriver.TemplateCreated: 1, taskerdriver.TemplateConflict: n - 1}, count(diff))
		got, err := b.ex.TemplateGet(b.ctx, &taskerdriver.TemplateGetParams{Namespace: "billing", Name: "charge", Version: "2.0.0"})
		require.NoError(t, err)
		for _, a := range diff {
			require.Equal(t, got.Hash, a.res.Template.Hash, "every conflict names the stored content")
		}

		// Concurrent replacements: each applies or finds its own content
		// stored; the last one written is what a read returns.
		for i := range n {
			wg.Go(func() {
				r, err := b.ex.TemplateRegister(b.ctx, reg("2.0.0", fmt.Sprintf("r%d", i), fmt.Sprintf("w%d", i), true, base.Add(time.Minute)))
				diff[i] = answer{r, err}
			})
		}
		wg.Wait()
		for _, a := range diff {
			require.NoError(t, a.err)
			require.Contains(t, []taskerdriver.TemplateRegisterOutcome{taskerdriver.TemplateReplaced, taskerdriver.TemplateUnchanged}, a.res.Outcome)
		}
		got, err = b.ex.TemplateGet(b.ctx, &taskerdriver.TemplateGetParams{Namespace: "billing", Name: "charge", Version: "2.0.0"})
		require.NoError(t, err)
		require.Equal(t, `{"name":"charge","hash":"`+got.Hash+`"}`, string(got.Definition), "hash and definition stay together")
	})
}
