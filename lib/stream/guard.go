package stream

import (
	"encoding/binary"
	"fmt"
	"io"

	flatbuffers "github.com/google/flatbuffers/go"
)

// messageGuard sits between a stream and the Arrow reader and checks each
// message's framing before the reader allocates for it: the metadata
// length (the reader makes a buffer of it, up to 2 GB) must be at most
// maxSchemaBytes, and the body length its flatbuffer gives at most
// MaxMessageBytes. Bytes pass through unchanged.
type messageGuard struct {
	r    io.Reader
	buf  []byte // checked bytes not yet passed on
	body int64  // body bytes still to pass through unchecked
}

// FramingError is a message whose framing asks for more than a stream
// may hold.
type FramingError struct{ What string }

func (e *FramingError) Error() string { return e.What }

func (g *messageGuard) Read(p []byte) (int, error) {
	if len(g.buf) == 0 && g.body == 0 {
		if err := g.next(); err != nil {
			return 0, err
		}
	}
	if len(g.buf) > 0 {
		n := copy(p, g.buf)
		g.buf = g.buf[n:]
		return n, nil
	}
	if int64(len(p)) > g.body {
		p = p[:g.body]
	}
	n, err := g.r.Read(p)
	g.body -= int64(n)
	if err == io.EOF && g.body > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// next reads the next message's prefix and metadata, checks them, and
// queues them; the body follows through.
func (g *messageGuard) next() error {
	head := make([]byte, 8)
	n, err := io.ReadFull(g.r, head[:4])
	if err != nil {
		g.buf = head[:n]
		if n == 0 {
			return err
		}
		return nil // a cut prefix: the reader reports it
	}
	length := binary.LittleEndian.Uint32(head[:4])
	pre := 4
	if length == 0xffffffff {
		m, err := io.ReadFull(g.r, head[4:8])
		if err != nil {
			g.buf = head[:4+m]
			return nil
		}
		length, pre = binary.LittleEndian.Uint32(head[4:8]), 8
	}
	if length == 0 { // end of stream
		g.buf = head[:pre]
		return nil
	}
	if length > maxSchemaBytes {
		return &FramingError{fmt.Sprintf("a message's metadata claims %d bytes, over the %d an lk stream's may hold (a corrupt length?)", length, maxSchemaBytes)}
	}
	meta := make([]byte, length)
	m, err := io.ReadFull(g.r, meta)
	if err != nil {
		g.buf = append(head[:pre], meta[:m]...)
		return nil // cut short: the reader reports it
	}
	body, err := bodyLength(meta)
	if err != nil {
		return &FramingError{fmt.Sprintf("a corrupt message: %v", err)}
	}
	if body < 0 || body > int64(MaxMessageBytes) {
		return &FramingError{fmt.Sprintf("a message claims a %d-byte body, over the %d an lk stream's batch may hold (a corrupt length?)", body, MaxMessageBytes)}
	}
	g.buf, g.body = append(head[:pre], meta...), body
	return nil
}

// bodyLength reads Message.bodyLength from a message's flatbuffer.
func bodyLength(meta []byte) (body int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("an offset out of the message (%v)", p)
		}
	}()
	if len(meta) < 4 {
		return 0, fmt.Errorf("%d bytes", len(meta))
	}
	msg := &flatbuffers.Table{Bytes: meta, Pos: flatbuffers.GetUOffsetT(meta)}
	if o := msg.Offset(10); o != 0 {
		body = msg.GetInt64(flatbuffers.UOffsetT(o) + msg.Pos)
	}
	return body, nil
}
