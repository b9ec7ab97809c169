package tools_test

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

// chromium finds Debian's Chromium, or skips (CI installs it).
func chromium(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is missing (.ci/run installs Debian's chromium)")
	}
	t.Skip("skipped: the report is checked in headless Chromium (Debian: apt-get install chromium)")
	return ""
}

// make reproduce's report.html, made by the real pipeline (one target, few
// images), renders in a real browser: every figure is an embedded image
// that loads with a non-zero size, the tables are HTML tables, the
// commands are folded, and the screenshot is not blank.
func TestReportInBrowser(t *testing.T) {
	browser := chromium(t)
	out := t.TempDir()
	cmd := exec.Command("bash", "pipelines/reproduce.sh", "shapebias", "autoattack")
	cmd.Dir = testutil.Root(t)
	cmd.Env = append(os.Environ(), "LK_BIN="+bin, "OUT="+out, "NSHAPE=64", "NAA=4", "AAQUERIES=10", "MODELS=lk3 lk31")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reproduce.sh: %v\n%s", err, b)
	}
	page, err := os.ReadFile(out + "/report.html")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), "<img src=\"data:image/png;base64,"); n != 1 || strings.Contains(string(page), "src=\"shapebias.png\"") {
		t.Errorf("%d embedded figures, want the shape-bias montage embedded", n)
	}
	if strings.Count(string(page), "<table>") != 2 || strings.Count(string(page), "<details><summary>Commands</summary>") != 2 {
		t.Errorf("want 2 tables and 2 folded command blocks in\n%.2000s", page)
	}
	// the DOM after load, with each image's decoded size written into it
	probe := strings.Replace(string(page), "</body>", `<script>
window.addEventListener('load', () => { for (const i of document.images) { i.setAttribute('data-size', i.naturalWidth + 'x' + i.naturalHeight); } });
</script></body>`, 1)
	os.WriteFile(out+"/probe.html", []byte(probe), 0o644)
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()}
	dom, err := exec.Command(browser, append(flags, "--virtual-time-budget=5000", "--dump-dom", "file://"+out+"/probe.html")...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	sizes := regexp.MustCompile(`data-size="(\d+)x(\d+)"`).FindAllStringSubmatch(string(dom), -1)
	if len(sizes) != 1 {
		t.Fatalf("%d images report a size after load, want 1:\n%.3000s", len(sizes), dom)
	}
	for _, s := range sizes {
		if s[1] == "0" || s[2] == "0" {
			t.Errorf("an image did not load: %s x %s", s[1], s[2])
		}
	}
	t.Logf("Chromium loaded the figure at %sx%s px", sizes[0][1], sizes[0][2])
	shot := out + "/shot.png"
	if b, err := exec.Command(browser, append(flags, "--window-size=1280,1600", "--screenshot="+shot, "file://"+out+"/report.html")...).CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, b)
	}
	f, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	colours := map[uint32]bool{}
	bnd := img.Bounds()
	for y := bnd.Min.Y; y < bnd.Max.Y; y += 7 {
		for x := bnd.Min.X; x < bnd.Max.X; x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if bnd.Dx() != 1280 || len(colours) < 20 {
		t.Errorf("screenshot %v with %d colours: blank?", bnd, len(colours))
	}
	t.Log(fmt.Sprintf("screenshot %dx%d, %d colours", bnd.Dx(), bnd.Dy(), len(colours)))
}
