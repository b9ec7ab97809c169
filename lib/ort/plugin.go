package ort

// A plugin execution provider (ONNX Runtime 1.22 and later) is a shared
// library that ONNX Runtime loads at run time and asks for the devices it
// can use; a session is then given one of those devices. onnxruntime_go
// wraps the registration but not the device query or the session option,
// so this file calls those three functions of ONNX Runtime's C API itself.
//
// The C API is a table of function pointers (OrtApi) that only grows at
// the end, so a function's position in it is fixed for good. The header is
// not copied here: the positions below are checked against the header that
// onnxruntime_go ships by TestAPIPositions, which compiles it.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef void* lk_status;
typedef const void* (*lk_get_api)(uint32_t);
typedef struct { lk_get_api GetApi; const char* (*GetVersionString)(void); } lk_api_base;

static void* const* lk_api;

// lk_load finds the OrtApi table of the library already loaded from path.
static const char* lk_load(const char* path, uint32_t version) {
	void* h = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
	if (!h) return "the library is not loaded";
	const lk_api_base* (*base)(void) = (const lk_api_base* (*)(void))dlsym(h, "OrtGetApiBase");
	if (!base) return "no OrtGetApiBase in the library";
	lk_api = (void* const*)base()->GetApi(version);
	if (!lk_api) return "the library does not offer the C API version asked for";
	return NULL;
}

// lk_error turns a status into a malloc'ed message (NULL for success) and
// frees the status.
static char* lk_error(lk_status st, int msg, int release) {
	if (!st) return NULL;
	const char* m = ((const char* (*)(lk_status))lk_api[msg])(st);
	char* out = strdup(m ? m : "unknown error");
	((void (*)(lk_status))lk_api[release])(st);
	return out;
}

static char* lk_env(int create, int msg, int release, void** env) {
	return lk_error(((lk_status (*)(int, const char*, void**))lk_api[create])(3, "lk", env), msg, release);
}

static char* lk_ep_devices(int fn, int msg, int release, void* env, const void* const** devs, size_t* n) {
	return lk_error(((lk_status (*)(void*, const void* const**, size_t*))lk_api[fn])(env, devs, n), msg, release);
}

static const char* lk_ep_name(int fn, const void* dev) {
	return ((const char* (*)(const void*))lk_api[fn])(dev);
}

static const void* lk_ep_hardware(int fn, const void* dev) {
	return ((const void* (*)(const void*))lk_api[fn])(dev);
}

static int lk_hardware_type(int fn, const void* hw) {
	return ((int (*)(const void*))lk_api[fn])(hw);
}

static char* lk_append(int fn, int msg, int release, void* so, void* env, const void* dev,
		const char* const* keys, const char* const* vals, size_t n) {
	const void* devs[1] = {dev};
	return lk_error(((lk_status (*)(void*, void*, const void* const*, size_t, const char* const*, const char* const*, size_t))lk_api[fn])(
		so, env, devs, 1, keys, vals, n), msg, release);
}

// lk_dlopen loads a library by name as the dynamic loader would find it;
// NULL on success, else the loader's reason.
static const char* lk_dlopen(const char* name) {
	if (dlopen(name, RTLD_LAZY | RTLD_GLOBAL)) return NULL;
	const char* e = dlerror();
	return e ? e : "not found";
}

static const void* lk_device_at(const void* const* devs, size_t i) { return devs[i]; }
*/
import "C"

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
	"unsafe"
)

// apiVersion is the C API version asked for: the one whose table the
// positions below come from (ONNX Runtime 1.24's header).
const apiVersion = 24

// Positions of the functions used, in OrtApi (onnxruntime_c_api.h).
const (
	apiGetErrorMessage                         = 2
	apiCreateEnv                               = 3
	apiReleaseStatus                           = 93
	apiGetEpDevices                            = 303
	apiSessionOptionsAppendExecutionProviderV2 = 304
	apiHardwareDeviceType                      = 307
	apiEpDeviceEpName                          = 312
	apiEpDeviceDevice                          = 316
)

// hardwareGPU is OrtHardwareDeviceType_GPU.
const hardwareGPU = 1

var (
	cAPIOnce sync.Once
	cAPIErr  error
	cEnv     unsafe.Pointer
)

// cAPI binds the C API table of the loaded library and the process's ONNX
// Runtime environment (a singleton: CreateEnv returns the one
// onnxruntime_go created).
func cAPI(path string) error {
	cAPIOnce.Do(func() {
		cp := C.CString(path)
		defer C.free(unsafe.Pointer(cp))
		if msg := C.lk_load(cp, apiVersion); msg != nil {
			cAPIErr = fmt.Errorf("%s: %s", path, C.GoString(msg))
			return
		}
		var env unsafe.Pointer
		if msg := C.lk_env(apiCreateEnv, apiGetErrorMessage, apiReleaseStatus, &env); msg != nil {
			defer C.free(unsafe.Pointer(msg))
			cAPIErr = fmt.Errorf("the ONNX Runtime environment: %s", C.GoString(msg))
			return
		}
		cEnv = env
	})
	return cAPIErr
}

// epDevice is a device a registered execution provider offers.
type epDevice struct {
	ptr unsafe.Pointer
	ep  string
	gpu bool
}

// epDevices lists the devices of every registered execution provider.
func epDevices() ([]epDevice, error) {
	var devs *unsafe.Pointer
	var n C.size_t
	if msg := C.lk_ep_devices(apiGetEpDevices, apiGetErrorMessage, apiReleaseStatus, cEnv,
		(**unsafe.Pointer)(unsafe.Pointer(&devs)), &n); msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return nil, fmt.Errorf("listing execution provider devices: %s", C.GoString(msg))
	}
	out := make([]epDevice, int(n))
	for i := range out {
		d := C.lk_device_at((*unsafe.Pointer)(unsafe.Pointer(devs)), C.size_t(i))
		out[i] = epDevice{
			ptr: d,
			ep:  C.GoString(C.lk_ep_name(apiEpDeviceEpName, d)),
			gpu: C.lk_hardware_type(apiHardwareDeviceType, C.lk_ep_hardware(apiEpDeviceDevice, d)) == hardwareGPU,
		}
	}
	return out, nil
}

// appendDevice adds the execution provider of dev, with its options, to
// the session options so (an onnxruntime_go SessionOptions, whose C
// pointer is its only field).
func appendDevice(so any, dev epDevice, opts map[string]string) error {
	v := reflect.ValueOf(so)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct || v.Elem().NumField() < 1 || v.Elem().Field(0).Kind() != reflect.Pointer {
		return fmt.Errorf("onnxruntime_go's SessionOptions changed shape (%s); lk's plugin provider support needs updating", v.Type())
	}
	ptr := v.Elem().Field(0).UnsafePointer()
	keys := make([]*C.char, 0, len(opts))
	vals := make([]*C.char, 0, len(opts))
	for _, k := range sortedKeys(opts) {
		keys = append(keys, C.CString(k))
		vals = append(vals, C.CString(opts[k]))
	}
	defer func() {
		for i := range keys {
			C.free(unsafe.Pointer(keys[i]))
			C.free(unsafe.Pointer(vals[i]))
		}
	}()
	var kp, vp **C.char
	if len(keys) > 0 {
		// the arrays of C strings go in C memory
		kp = (**C.char)(C.malloc(C.size_t(len(keys)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
		vp = (**C.char)(C.malloc(C.size_t(len(keys)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
		defer C.free(unsafe.Pointer(kp))
		defer C.free(unsafe.Pointer(vp))
		ks := unsafe.Slice(kp, len(keys))
		vs := unsafe.Slice(vp, len(keys))
		copy(ks, keys)
		copy(vs, vals)
	}
	if msg := C.lk_append(apiSessionOptionsAppendExecutionProviderV2, apiGetErrorMessage, apiReleaseStatus,
		ptr, cEnv, dev.ptr, kp, vp, C.size_t(len(keys))); msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return fmt.Errorf("adding %s: %s", dev.ep, C.GoString(msg))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// loadable reports why the dynamic loader cannot load the library name
// ("" when it can). A library that loads stays loaded: the provider is
// about to need it.
func loadable(name string) string {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	if msg := C.lk_dlopen(cn); msg != nil {
		return C.GoString(msg)
	}
	return ""
}
