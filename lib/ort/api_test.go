package ort

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The positions of the C API functions lk calls are those of the header
// onnxruntime_go ships: a C program compiled against it prints each one's
// offset in OrtApi.
func TestAPIPositions(t *testing.T) {
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/yalue/onnxruntime_go").Output()
	if err != nil {
		t.Fatalf("finding onnxruntime_go's module: %v", err)
	}
	inc := strings.TrimSpace(string(dir))
	want := map[string]int{
		"GetErrorMessage": apiGetErrorMessage,
		"CreateEnv":       apiCreateEnv,
		"ReleaseStatus":   apiReleaseStatus,
		"GetEpDevices":    apiGetEpDevices,
		"SessionOptionsAppendExecutionProvider_V2": apiSessionOptionsAppendExecutionProviderV2,
		"HardwareDevice_Type":                      apiHardwareDeviceType,
		"EpDevice_EpName":                          apiEpDeviceEpName,
		"EpDevice_Device":                          apiEpDeviceDevice,
	}
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include \"onnxruntime_c_api.h\"\nint main(void) {\n")
	fmt.Fprintf(&src, "printf(\"version %%d\\n\", ORT_API_VERSION);\n")
	for name := range want {
		fmt.Fprintf(&src, "printf(\"%s %%zu\\n\", offsetof(OrtApi, %s) / sizeof(void*));\n", name, name)
	}
	src.WriteString("return 0;\n}\n")
	tmp := t.TempDir()
	c := filepath.Join(tmp, "api.c")
	if err := os.WriteFile(c, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cc", "-I", inc, "-o", filepath.Join(tmp, "api"), c).CombinedOutput(); err != nil {
		t.Fatalf("compiling against %s/onnxruntime_c_api.h: %v\n%s", inc, err, out)
	}
	out, err := exec.Command(filepath.Join(tmp, "api")).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var name string
		var got int
		if _, err := fmt.Sscanf(line, "%s %d", &name, &got); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if name == "version" {
			if got != apiVersion {
				t.Errorf("the header is C API version %d, lk asks for %d", got, apiVersion)
			}
			continue
		}
		if want[name] != got {
			t.Errorf("%s is at %d in OrtApi, lk calls %d", name, got, want[name])
		}
	}
}
