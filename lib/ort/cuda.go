package ort

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// CUDAProviderLib is the CUDA plugin execution provider's library, looked
// for beside libonnxruntime.so.1 (where `make deps-gpu` puts both).
const CUDAProviderLib = "libonnxruntime_providers_cuda.so"

// GPULibVersion is the ONNX Runtime release of the GPU build `make
// deps-gpu` fetches, and GPUDir where it lays it out in the lk checkout.
const (
	GPULibVersion = "1.29.0"
	GPUDir        = ".deps/onnxruntime-gpu-" + GPULibVersion
)

// cuDNNLib is the cuDNN library the CUDA provider opens at run time (not a
// link-time dependency, so the provider's ELF header does not name it):
// ONNX Runtime 1.20 and later are built against cuDNN 9.
const cuDNNLib = "libcudnn.so.9"

// convSearch is the CUDA provider's option for cuDNN's convolution
// algorithm search, set to exhaustive in both ways a provider is added:
// the fastest kernel for each convolution shape, found once per session
// (the default heuristic is reported several times slower).
const convSearch, exhaustive = "cudnn_conv_algo_search", "EXHAUSTIVE"

// driverLib is the NVIDIA driver's CUDA library: without it there is no
// CUDA device, whatever toolkit is installed.
const driverLib = "libcuda.so.1"

// CUDAError says why a session cannot run on CUDA: the library has no
// CUDA provider, libraries the provider needs cannot be loaded, or there
// is no CUDA device.
type CUDAError struct {
	Lib     string   // the ONNX Runtime library loaded
	Version string   // its version
	Reason  string   // set when the provider itself is missing or fails
	Missing []string // one line per library that cannot be loaded
}

func (e *CUDAError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("CUDA: ONNX Runtime %s (%s): %s", e.Version, e.Lib, e.Reason)
	}
	return fmt.Sprintf("CUDA: the CUDA provider of ONNX Runtime %s (%s) cannot load:\n  %s",
		e.Version, e.Lib, strings.Join(e.Missing, "\n  "))
}

// NoDeviceError is a CUDA provider that loaded and found no GPU, or fewer
// than the device asked for.
type NoDeviceError struct {
	Device, Found int
}

func (e *NoDeviceError) Error() string {
	if e.Found == 0 {
		return "no CUDA device: the CUDA provider loaded but sees no GPU (is the NVIDIA driver running? nvidia-smi says)"
	}
	return fmt.Sprintf("no CUDA device %d: the CUDA provider sees %d GPU(s), numbered from 0", e.Device, e.Found)
}

var (
	registerOnce sync.Once
	registerErr  error
)

// appendCUDA adds the CUDA execution provider on the given device to so:
// ONNX Runtime's own GPU builds have it built in; otherwise the plugin
// provider library beside the loaded library is registered and given the
// device. The cuDNN convolution algorithm search is exhaustive (the best
// kernel for each convolution shape, found once per session).
func appendCUDA(so *ort.SessionOptions, device int) error {
	lib, _ := LibraryPath()
	version := ort.GetVersion()
	plugin := filepath.Join(filepath.Dir(lib), CUDAProviderLib)
	_, statErr := os.Stat(plugin)
	if statErr == nil && !isPlugin(plugin) {
		// ONNX Runtime's own GPU build: the provider is reached through
		// the library's CUDA options
		return builtinCUDA(so, lib, version, plugin, device)
	}
	if statErr != nil {
		return &CUDAError{Lib: lib, Version: version, Reason: fmt.Sprintf(
			"a CPU build, and no %s beside it; run `make deps-gpu` in the lk checkout and set %s to %s/libonnxruntime.so.1 there",
			CUDAProviderLib, LibEnv, GPUDir)}
	}
	if missing := Preflight(plugin, version); len(missing) > 0 {
		return &CUDAError{Lib: lib, Version: version, Missing: missing}
	}
	registerOnce.Do(func() {
		if registerErr = ort.RegisterExecutionProviderLibrary("lk-cuda", plugin); registerErr != nil {
			return
		}
		registerErr = cAPI(lib)
	})
	if registerErr != nil {
		return &CUDAError{Lib: lib, Version: version, Reason: fmt.Sprintf("loading %s: %v", plugin, registerErr)}
	}
	devs, err := epDevices()
	if err != nil {
		return err
	}
	var gpus []epDevice
	for _, d := range devs {
		if d.gpu && strings.Contains(strings.ToUpper(d.ep), "CUDA") {
			gpus = append(gpus, d)
		}
	}
	if device >= len(gpus) {
		return &NoDeviceError{Device: device, Found: len(gpus)}
	}
	return appendDevice(so, gpus[device], map[string]string{convSearch: exhaustive})
}

// builtinCUDA adds the CUDA provider of a build that has it built in
// (its provider library is not a plugin). A failure to start is usually a
// missing CUDA library, which the preflight names.
func builtinCUDA(so *ort.SessionOptions, lib, version, provider string, device int) error {
	if missing := Preflight(provider, version); len(missing) > 0 {
		return &CUDAError{Lib: lib, Version: version, Missing: missing}
	}
	co, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return &CUDAError{Lib: lib, Version: version, Reason: err.Error()}
	}
	defer co.Destroy()
	if err := co.Update(map[string]string{"device_id": fmt.Sprint(device), convSearch: exhaustive}); err != nil {
		return &CUDAError{Lib: lib, Version: version, Reason: err.Error()}
	}
	if err := so.AppendExecutionProviderCUDA(co); err != nil {
		return &CUDAError{Lib: lib, Version: version, Reason: err.Error()}
	}
	return nil
}

// isPlugin reports whether a provider library is a plugin execution
// provider (it exports CreateEpFactories).
func isPlugin(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return false
	}
	for _, s := range syms {
		if s.Name == "CreateEpFactories" && s.Section != elf.SHN_UNDEF {
			return true
		}
	}
	return false
}

// Preflight names each library the CUDA provider at plugin needs that the
// dynamic loader cannot load, with the CUDA or cuDNN release it comes
// from, before ONNX Runtime tries and reports only the first. The
// provider's ELF header lists its CUDA libraries (their major versions
// say which CUDA); cuDNN is opened at run time and checked by name.
func Preflight(plugin, version string) []string {
	needed := []string{driverLib}
	if f, err := elf.Open(plugin); err == nil {
		libs, _ := f.ImportedLibraries()
		f.Close()
		for _, l := range libs {
			if isCUDALib(l) && l != driverLib {
				needed = append(needed, l)
			}
		}
	}
	needed = append(needed, cuDNNLib)
	cuda := "CUDA"
	for _, l := range needed {
		if v, ok := strings.CutPrefix(l, "libcudart.so."); ok {
			cuda = "CUDA " + v
		}
	}
	short := version
	if i := strings.LastIndex(version, "."); strings.Count(version, ".") == 2 && i > 0 {
		short = version[:i]
	}
	var missing []string
	for _, l := range needed {
		if why := loadable(l); why != "" {
			if l == driverLib {
				missing = append(missing, fmt.Sprintf("%s not found: no NVIDIA driver, so no CUDA device on this machine", l))
				continue
			}
			if !strings.Contains(why, "No such file") && !strings.Contains(why, "cannot open") {
				missing = append(missing, fmt.Sprintf("%s: %s", l, why))
				continue
			}
			missing = append(missing, fmt.Sprintf("%s not found: the CUDA provider of ONNX Runtime %s needs %s and cuDNN 9; put their lib folders on LD_LIBRARY_PATH", l, short, cuda))
		}
	}
	return missing
}

// isCUDALib reports whether a needed library comes from the CUDA toolkit,
// cuDNN or the driver, not from the C/C++ runtime.
func isCUDALib(name string) bool {
	for _, p := range []string{"libcu", "libnv", "libcudnn"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
