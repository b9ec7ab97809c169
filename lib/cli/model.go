package cli

import (
	"errors"
	"fmt"

	"github.com/lk-robustness/lk/lib/model"
)

// An Explainer adds to the errors it knows the advice of a tool's flags,
// and returns every other error (nil too) as it is.
type Explainer func(error) error

// Hint is an Explainer that appends advice to an error holding an E.
func Hint[E error](advice string) Explainer {
	return func(err error) error {
		var e E
		if errors.As(err, &e) {
			return fmt.Errorf("%w%s", err, advice)
		}
		return err
	}
}

// ExplainModel words the errors of opening and feeding a model with the
// flags every tool that opens one by --model has: --mean and --std, and
// --input-size.
func ExplainModel(err error) error {
	for _, h := range []Explainer{
		Hint[*model.NoNormalisationError](", or with --mean and --std"),
		Hint[*model.SymbolicSizeError](", or with --input-size C,H,W"),
		Hint[*model.ImageSizeError](" (resize or crop with lk-data --resize/--crop)"),
	} {
		err = h(err)
	}
	return err
}
