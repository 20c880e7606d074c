package tasker_test

import (
	"testing"

	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// eachDriver runs fn as a parallel subtest per driver (see testdb).
func eachDriver(t *testing.T, fn func(t *testing.T)) { t.Helper(); testdb.EachDriver(t, fn) }

// openTestDriver opens a fresh, empty database of the test's driver.
func openTestDriver(t testing.TB) taskerdriver.Driver { t.Helper(); return testdb.Open(t) }
