// Copyright 2026 The caddy-sse Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package hub

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
)

// IDCipher turns log positions into event ids and back. An id is the
// position's 16 bytes encrypted with AES-128 under the log's key, in
// unpadded base64url: 22 characters that tell a client nothing about the
// position, so the ids a subscriber sees reveal neither the volume nor
// the timing of events it may not see. Only the key's holders can read
// them back.
type IDCipher struct{ block cipher.Block }

// IDLen is the length of every id an IDCipher makes.
const IDLen = 22

// IDKeyLen is the length of an IDCipher's key.
const IDKeyLen = 16

var idEncoding = base64.RawURLEncoding.Strict()

// NewIDCipher returns a cipher with a key of IDKeyLen bytes.
func NewIDCipher(key []byte) (*IDCipher, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &IDCipher{block}, nil
}

// NewIDKey returns a random key for NewIDCipher.
func NewIDKey() []byte {
	key := make([]byte, IDKeyLen)
	_, _ = rand.Read(key) // crypto/rand never fails on Linux; see its doc
	return key
}

// AppendID appends the id of pos to b.
func (c *IDCipher) AppendID(b []byte, pos Position) []byte {
	var block [16]byte
	return c.appendID(b, pos, &block)
}

// ID returns the id of pos.
func (c *IDCipher) ID(pos Position) string {
	var buf [IDLen]byte
	return string(c.AppendID(buf[:0], pos))
}

// appendID is AppendID with the caller's scratch block: the block goes
// through an interface call and so escapes, and a caller that keeps one
// (the memory log, under its lock) spares an allocation per id.
func (c *IDCipher) appendID(b []byte, pos Position, block *[16]byte) []byte {
	binary.BigEndian.PutUint64(block[:8], pos.Major)
	binary.BigEndian.PutUint64(block[8:], pos.Minor)
	c.block.Encrypt(block[:], block[:])
	return idEncoding.AppendEncode(b, block[:])
}

// Position reads an id back; ok is false for anything that is not an
// id of this length and encoding. Any such id decrypts to some position:
// the log decides whether it is one of its own.
func (c *IDCipher) Position(id string) (pos Position, ok bool) {
	if len(id) != IDLen {
		return Position{}, false
	}
	var block [16]byte
	if n, err := idEncoding.Decode(block[:], []byte(id)); err != nil || n != 16 {
		return Position{}, false
	}
	c.block.Decrypt(block[:], block[:])
	return Position{binary.BigEndian.Uint64(block[:8]), binary.BigEndian.Uint64(block[8:])}, true
}
