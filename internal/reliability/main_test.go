package reliability

import (
	"testing"

	"github.com/bodypool/bodypool/internal/demoproc"
)

func TestMain(m *testing.M) { demoproc.Main(m) }
