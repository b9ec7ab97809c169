package table_test

import (
	"os"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/lk-robustness/lk/lib/table"
)

// Long-form results go out pivoted for people: one line per group, a
// column per metric, n the rows each value was computed from.
func ExampleWrite() {
	rows := []table.Row{
		{Group: []string{"lk31"}, Metric: "top1", Value: 91.69, N: 8000},
		{Group: []string{"lk31"}, Metric: "mCE", Value: 86.15, N: 8000},
		{Group: []string{"resnet"}, Metric: "top1", Value: 91.91, N: 8000},
	}
	if err := table.Write(os.Stdout, "markdown", []string{"model"}, rows, arrow.Metadata{}); err != nil {
		panic(err)
	}
	// Output:
	// | model | n | top1 | mCE |
	// |---|---|---|---|
	// | lk31 | 8000 | 91.69 | 86.15 |
	// | resnet | 8000 | 91.91 |  |
}
