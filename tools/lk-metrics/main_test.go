package main

import (
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	p := tooltest.Predictions(t, "lk3", 40)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{"--measure", "nosuch"}, Stdin: p, Err: "--measure \"nosuch\"", Usage: true},
		{Args: []string{"--ci", "100"}, Stdin: p, Err: "between 0 and 100", Usage: true},
		{Args: []string{"--compare", "model=lk3"}, Stdin: p, Err: "want COL=A,B", Usage: true},
		{Args: []string{"--compare", "model=lk3,lk3"}, Stdin: p, Err: "want COL=A,B", Usage: true},
		{Args: []string{"--compare", "model=lk3,vit", "--by", "model"}, Stdin: p, Err: "also in --by"},
		{Args: []string{"--compare", "model=lk3,vit"}, Stdin: p, Err: "no scored rows have model vit"},
		{Args: []string{"--compare", "model=lk3,vit", "--measure", "reliability"}, Stdin: p, Err: "no paired comparison"},
		{Args: []string{"--ci", "95", "--ci-method", "exact"}, Stdin: p, Err: "want bootstrap or wilson", Usage: true},
		{Args: []string{"--ci", "95", "--resamples", "10"}, Stdin: p, Err: "at least 100", Usage: true},
		{Args: []string{"--ci", "95", "--ci-method", "wilson", "--over", "seed"}, Stdin: p, Err: "wilson with --over"},
		{Args: []string{"--ci", "95", "--measure", "reliability"}, Stdin: p, Err: "reliability diagram's bins get no interval"},
		{Args: []string{"--ci", "95", "--ci-method", "wilson", "--measure", "calibration"}, Stdin: p, Err: "takes the bootstrap"},
		{Args: []string{"--ci", "95", "--resamples", "100", "--measure", "calibration"}, Stdin: p},
		{Args: []string{"--ci", "95", "--resamples", "200", "--by", "model"}, Stdin: p},
		{Args: []string{"--measure", "ood"}, Stdin: p, Err: "needs --positive", Usage: true},
		{Args: []string{"--baseline", "x.arrow"}, Stdin: p, Err: "--baseline is for", Usage: true},
		{Args: []string{"--subset", "imagenet-z"}, Stdin: p, Err: "--subset", Usage: true},
		{Args: []string{"--by", "model,model"}, Stdin: p, Err: "given twice", Usage: true},
		{Name: "images, not predictions", Stdin: tooltest.Images(t, 8), Err: "logits"},
		{Name: "truncated", Stdin: p[:len(p)-100], Err: "truncated"},
		{Name: "predictions", Args: []string{"--format", "csv"}, Stdin: p},
		{Args: []string{"--where", "variant"}, Stdin: p, Err: "want COL=VALUE", Usage: true},
		{Args: []string{"--where", "variant=mixed_rand"}, Stdin: p, Err: "--where variant=mixed_rand: no such column"},
		{Args: []string{"--where", "model=vit"}, Stdin: p, Err: "no row of the inputs has it (model holds: lk3)"},
	})
	// --where keeps the rows --by would put in that group: the same scores
	byLabel, _, err := tooltest.Run(run, p, "--by", "label", "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(byLabel)), "\n")[1:] {
		label, rest, _ := strings.Cut(l, ",")
		got, _, err := tooltest.Run(run, p, "--where", "label="+label, "--format", "csv")
		if err != nil || strings.Split(strings.TrimSpace(string(got)), "\n")[1] != rest {
			t.Errorf("--where label=%s: %q %v, --by label's row %q", label, got, err, rest)
		}
	}
	out, _, err := tooltest.Run(run, p, "--by", "model", "--format", "csv")
	if err != nil || !strings.HasPrefix(string(out), "model,n,top1,top5,xent\nlk3,40,") {
		t.Errorf("%q %v", out, err)
	}
}

func TestRunFlagsNamedByMain(t *testing.T) {
	p := tooltest.Predictions(t, "lk3", 8)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{"--format", "xls"}, Stdin: p, Err: `--format "xls": want one of`, Usage: true},
		{Args: []string{"--measure", "ce", "--baseline", "nosuch.arrow"}, Stdin: p, Err: "--baseline: open nosuch.arrow"},
	})
}
