// Package onnxpb holds the Go types of ONNX's protobuf schema, generated
// from the onnx.proto that Debian's libonnx-dev ships (ONNX 1.12, IR
// version 8). The generated code is committed, so builds need neither
// protoc nor libonnx-dev; fields of newer IR versions survive a load and
// save as unknown fields.
//
// To regenerate: apt-get install protobuf-compiler libonnx-dev;
// go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12; go generate.
package onnxpb

//go:generate protoc -I /usr/include/onnx --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/lk-robustness/lk/lib/onnx/onnxpb onnx.proto
