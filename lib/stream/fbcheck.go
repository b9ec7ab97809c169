package stream

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	flatbuffers "github.com/google/flatbuffers/go"
)

// The Arrow reader trusts the vector lengths in a schema message: a
// field count a corrupt byte makes 10^10 becomes one allocation of
// hundreds of gigabytes, which kills the process. readSchemaMessage reads
// the first message of a stream itself and checks, against the message's
// own size, every vector and string the reader will read from it, before
// the reader sees the bytes.

// Slots (4 + 2 * field id) of the tables of Arrow's Message.fbs and
// Schema.fbs the reader reads vectors and strings from.
const (
	slotMessageHeader = 8  // Message.header (the Schema table)
	slotMessageMeta   = 12 // Message.custom_metadata
	slotSchemaFields  = 6  // Schema.fields
	slotSchemaMeta    = 8  // Schema.custom_metadata
	slotSchemaFeat    = 10 // Schema.features (longs)
	slotFieldName     = 4  // Field.name
	slotFieldChildren = 14 // Field.children
	slotFieldMeta     = 16 // Field.custom_metadata
	slotKVKey         = 4  // KeyValue.key
	slotKVValue       = 6  // KeyValue.value
	maxFieldDepth     = 64
)

// readSchemaMessage reads a stream's schema message (its prefix, its
// flatbuffer and its body) from br and returns its bytes, checked.
func readSchemaMessage(br *bufio.Reader, name string) ([]byte, error) {
	if err := checkStart(br, name); err != nil {
		return nil, err
	}
	head, _ := br.Peek(8)
	prefix, n := 4, binary.LittleEndian.Uint32(head[:4])
	if n == 0xffffffff {
		prefix, n = 8, binary.LittleEndian.Uint32(head[4:])
	}
	msg := make([]byte, prefix+int(n))
	if _, err := io.ReadFull(br, msg); err != nil {
		return nil, fmt.Errorf("%s: stream truncated in its schema (%v)", name, err)
	}
	body, err := checkSchemaFB(msg[prefix:])
	if err != nil {
		return nil, fmt.Errorf("%s: not an Arrow IPC stream: its schema message is corrupt (%v)", name, err)
	}
	if body < 0 || body > maxSchemaBytes {
		return nil, fmt.Errorf("%s: not an Arrow IPC stream: its schema message claims a %d-byte body", name, body)
	}
	b := make([]byte, body)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, fmt.Errorf("%s: stream truncated in its schema (%v)", name, err)
	}
	return append(msg, b...), nil
}

// checkSchemaFB walks a schema message's flatbuffer and returns its body
// length; any vector or string that runs past the buffer is an error
// (the flatbuffers library's reads panic on those: recovered here).
func checkSchemaFB(buf []byte) (body int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("an offset out of the message (%v)", p)
		}
	}()
	if len(buf) < 4 {
		return 0, fmt.Errorf("%d bytes", len(buf))
	}
	msg := &flatbuffers.Table{Bytes: buf, Pos: flatbuffers.GetUOffsetT(buf)}
	if err := checkKVs(msg, slotMessageMeta); err != nil {
		return 0, err
	}
	if body, err = bodyLength(buf); err != nil {
		return 0, err
	}
	o := msg.Offset(slotMessageHeader)
	if o == 0 {
		return 0, fmt.Errorf("no header")
	}
	var schema flatbuffers.Table
	msg.Union(&schema, flatbuffers.UOffsetT(o))
	if _, err := vector(&schema, slotSchemaFeat, 8); err != nil {
		return 0, err
	}
	if err := checkKVs(&schema, slotSchemaMeta); err != nil {
		return 0, err
	}
	return body, checkFields(&schema, slotSchemaFields, 0)
}

// vector returns the element count of the vector in slot, checked to fit
// in the buffer at elem bytes an element.
func vector(t *flatbuffers.Table, slot flatbuffers.VOffsetT, elem int) (int, error) {
	o := t.Offset(slot)
	if o == 0 {
		return 0, nil
	}
	n := t.VectorLen(flatbuffers.UOffsetT(o))
	start := int(t.Vector(flatbuffers.UOffsetT(o)))
	if n < 0 || start > len(t.Bytes) || n > (len(t.Bytes)-start)/elem {
		return 0, fmt.Errorf("a vector of %d elements in %d bytes", n, len(t.Bytes))
	}
	return n, nil
}

// element is the i-th table of the offset vector in slot.
func element(t *flatbuffers.Table, slot flatbuffers.VOffsetT, i int) *flatbuffers.Table {
	o := t.Offset(slot)
	at := t.Vector(flatbuffers.UOffsetT(o)) + flatbuffers.UOffsetT(4*i)
	return &flatbuffers.Table{Bytes: t.Bytes, Pos: t.Indirect(at)}
}

// str checks the string in slot fits in the buffer.
func str(t *flatbuffers.Table, slot flatbuffers.VOffsetT) error {
	o := t.Offset(slot)
	if o == 0 {
		return nil
	}
	at := flatbuffers.UOffsetT(o) + t.Pos
	at += flatbuffers.GetUOffsetT(t.Bytes[at:])
	if n := int(flatbuffers.GetUOffsetT(t.Bytes[at:])); n > len(t.Bytes)-int(at)-4 {
		return fmt.Errorf("a string of %d bytes in %d", n, len(t.Bytes))
	}
	return nil
}

func checkKVs(t *flatbuffers.Table, slot flatbuffers.VOffsetT) error {
	n, err := vector(t, slot, 4)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		kv := element(t, slot, i)
		if err := str(kv, slotKVKey); err != nil {
			return err
		}
		if err := str(kv, slotKVValue); err != nil {
			return err
		}
	}
	return nil
}

func checkFields(t *flatbuffers.Table, slot flatbuffers.VOffsetT, depth int) error {
	if depth > maxFieldDepth {
		return fmt.Errorf("fields nested over %d deep", maxFieldDepth)
	}
	n, err := vector(t, slot, 4)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		f := element(t, slot, i)
		if err := str(f, slotFieldName); err != nil {
			return err
		}
		if err := checkKVs(f, slotFieldMeta); err != nil {
			return err
		}
		if err := checkFields(f, slotFieldChildren, depth+1); err != nil {
			return err
		}
	}
	return nil
}
