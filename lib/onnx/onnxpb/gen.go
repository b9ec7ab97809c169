// Package onnxpb holds the Go types of ONNX's protobuf schema, generated
// from the onnx.proto of ONNX 1.17 (IR version 10, as Debian trixie's
// python3-onnx ships it): model-local functions' default attributes
// (attribute_proto), overloads and value_info are fields, not unknown
// bytes. The generated code is committed, so builds need neither protoc
// nor the proto file; fields of newer IR versions survive a load and save
// as unknown fields.
//
// To regenerate: apt-get install protobuf-compiler; copy onnx.proto of
// ONNX 1.17 (python3-onnx's onnx/onnx.proto in Debian trixie) to
// /tmp/onnxproto; go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12;
// go generate.
package onnxpb

//go:generate protoc -I /tmp/onnxproto --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/lk-robustness/lk/lib/onnx/onnxpb onnx.proto
