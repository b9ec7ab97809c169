package cli

import (
	"errors"
	"flag"
	"fmt"

	"github.com/lk-robustness/lk/lib/model"
)

// ExplainModel adds to an error of opening or feeding a model the flags of
// fs that resolve it. lib/model words these errors without flags, and only
// a tool that has the flag can offer it.
func ExplainModel(fs *flag.FlagSet, err error) error {
	var nn *model.NoNormalisationError
	var ss *model.SymbolicSizeError
	var is *model.ImageSizeError
	switch {
	case errors.As(err, &nn) && fs.Lookup("mean") != nil:
		return fmt.Errorf("%w, or with --mean and --std", err)
	case errors.As(err, &ss) && fs.Lookup("input-size") != nil:
		return fmt.Errorf("%w, or with --input-size C,H,W", err)
	case errors.As(err, &is):
		return fmt.Errorf("%w (resize or crop with lk-data --resize/--crop)", err)
	}
	return err
}
