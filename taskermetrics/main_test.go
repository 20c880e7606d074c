package taskermetrics_test

import (
	"testing"

	"github.com/tasker-go/tasker/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }
