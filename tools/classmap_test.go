package tools_test

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/stream"
)

// An ObjectNet-like tree: class folders, some mapped to groups of
// ImageNet classes by --class-map, one not (an error naming it, or left
// out with --skip-unmapped), images with a 1-pixel red border that --trim
// 1 removes. The stream carries the groups for lk-metrics.
func TestClassMap(t *testing.T) {
	tmp := t.TempDir()
	for _, p := range []string{"chair/1.png", "chair/2.png", "banana/1.png", "spatula/1.png"} {
		img := image.NewRGBA(image.Rect(0, 0, 10, 10))
		for y := 0; y < 10; y++ {
			for x := 0; x < 10; x++ {
				c := color.RGBA{40, 90, 200, 255}
				if x == 0 || y == 0 || x == 9 || y == 9 {
					c = color.RGBA{255, 0, 0, 255}
				}
				img.Set(x, y, c)
			}
		}
		path := filepath.Join(tmp, "objectnet", p)
		os.MkdirAll(filepath.Dir(path), 0o755)
		f, _ := os.Create(path)
		png.Encode(f, img)
		f.Close()
	}
	os.WriteFile(tmp+"/map.txt", []byte("# ObjectNet folder -> ImageNet classes\nchair 423,559,n04099969,857\nbanana 954\n"), 0o644)
	_, errOut, err := sh(t, fmt.Sprintf("lk-data -q --class-map %s/map.txt %s/objectnet > /dev/null", tmp, tmp))
	if err == nil || !strings.Contains(errOut, "1 folders are not in the class map: spatula (--skip-unmapped leaves their images out)") {
		t.Errorf("unmapped folder: %v %s", err, errOut)
	}
	_, errOut, err = sh(t, fmt.Sprintf("lk-data -q --class-map %s/map.txt %s/objectnet > /dev/null", tmp, tmp+"/nope"))
	if err == nil {
		t.Errorf("missing tree accepted")
	}
	os.WriteFile(tmp+"/bad.txt", []byte("chair 423\nbanana 1000\n"), 0o644)
	_, errOut, err = sh(t, fmt.Sprintf("lk-data -q --class-map %s/bad.txt %s/objectnet > /dev/null", tmp, tmp))
	if err == nil || !strings.Contains(errOut, "bad.txt:2: class \"1000\" is neither an ImageNet-1k index") {
		t.Errorf("bad class: %v %s", err, errOut)
	}
	mustSh(t, fmt.Sprintf("lk-data -q --class-map %s/map.txt --skip-unmapped --trim 1 %s/objectnet > %s/o.arrow", tmp, tmp, tmp))
	r := openStream(t, tmp+"/o.arrow")
	if v, _ := r.Schema().Metadata().GetValue(stream.MetaClassGroups); v != "423,559,765,857;954" {
		t.Errorf("class groups %q", v)
	}
	imgs := imagesBy(t, tmp+"/o.arrow")
	labels := map[string]bool{}
	for id, px := range imgs {
		if len(px) != 3*8*8 || px[0] > 0.2 || px[64] < 0.3 { // red gone: R 40/255, G 90/255 at the corner
			t.Errorf("%s: %d values, corner R %v G %v: the border is not trimmed", id, len(px), px[0], px[64])
		}
		labels[id] = true
	}
	if len(imgs) != 3 || labels["spatula/1.png"] {
		t.Errorf("images %v, want the 3 of mapped folders", labels)
	}
}
