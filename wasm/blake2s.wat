;; BLAKE2s-256 (RFC 7693, unkeyed), and HMAC and HKDF over it as Noise §4.3
;; defines them, for the Noise handshake of every session: MixHash, and the
;; 2 or 3 HMACs of each MixKey/Split HKDF in one call (13 HMACs per server
;; handshake) instead of one JavaScript digest per block sequence.
;;
;; Built by wasm/build.ts (wabt) into src/crypto/noise/blake2s_wasm.ts; used by
;; src/crypto/noise/wasm_blake2s.ts. See wasm/README.md. The G steps of
;; `compress` are written out (locals cannot be indexed).
;;
;; Memory layout (one instance per isolate, one page, never grown):
;;   0    H       32 B  chaining value h[0..8]
;;   64   BUF     64 B  the last block, zero-padded
;;   128  PAD     64 B  HMAC ipad / opad
;;   192  INNER   32 B  HMAC inner digest
;;   224  TEMP    64 B  HKDF temporary key (32 B), zero-padded to the block
;;   320  SIGMA  160 B  message word offsets (4 × index) of each round (data)
;;   512  OUT     96 B  the result: a digest, an HMAC, or 2-3 HKDF outputs
;;   640  KEY     64 B  the HMAC key / HKDF chaining key, written by the
;;                      caller into zeroes (so it is zero-padded to the block)
;;   1024 DATA          the input, written by the caller (up to 64,512 B)
;; Every call ends by zeroing 0..320, KEY and the input it read; the caller
;; copies OUT and zeroes it.
;;
;; Whole blocks are compressed where they lie; only the last one is copied
;; (to BUF, to be zero-padded). Bulk memory operations are calls in V8, so
;; the fixed-size copies here are vector loads and stores.
;;
;; Constant time: no branch or memory index depends on the key or the data
;; (only on lengths, which are public in Noise).
(module
  (memory (export "memory") 1)
  (data (i32.const 320) "\00\04\08\0c\10\14\18\1c\20\24\28\2c\30\34\38\3c\38\28\10\20\24\3c\34\18\04\30\00\08\2c\1c\14\0c\2c\20\30\00\14\08\3c\34\28\38\0c\18\1c\04\24\10\1c\24\0c\04\34\30\2c\38\08\18\14\28\10\00\3c\20\24\00\14\1c\08\10\28\3c\38\04\2c\30\18\20\0c\34\08\30\18\28\00\2c\20\0c\10\34\1c\14\3c\38\04\24\30\14\04\3c\38\34\10\28\00\1c\18\0c\24\08\20\2c\34\2c\1c\38\30\04\0c\24\14\00\3c\10\20\18\08\28\18\3c\38\24\2c\0c\00\20\30\08\34\1c\04\10\28\14\28\08\20\10\1c\18\04\14\3c\2c\24\38\0c\30\34\00")

  ;; Compresses the block at $p into H; $count: bytes hashed so far,
  ;; including this block (the counter t); $last: 1 for the final block.
  (func $compress (param $p i32) (param $count i64) (param $last i32)
    (local $v0 i32) (local $v1 i32) (local $v2 i32) (local $v3 i32)
    (local $v4 i32) (local $v5 i32) (local $v6 i32) (local $v7 i32)
    (local $v8 i32) (local $v9 i32) (local $v10 i32) (local $v11 i32)
    (local $v12 i32) (local $v13 i32) (local $v14 i32) (local $v15 i32)
    (local $s i32)
    (local.set $v0 (i32.load offset=0 (i32.const 0)))
    (local.set $v1 (i32.load offset=4 (i32.const 0)))
    (local.set $v2 (i32.load offset=8 (i32.const 0)))
    (local.set $v3 (i32.load offset=12 (i32.const 0)))
    (local.set $v4 (i32.load offset=16 (i32.const 0)))
    (local.set $v5 (i32.load offset=20 (i32.const 0)))
    (local.set $v6 (i32.load offset=24 (i32.const 0)))
    (local.set $v7 (i32.load offset=28 (i32.const 0)))
    (local.set $v8 (i32.const 0x6a09e667))
    (local.set $v9 (i32.const 0xbb67ae85))
    (local.set $v10 (i32.const 0x3c6ef372))
    (local.set $v11 (i32.const 0xa54ff53a))
    (local.set $v12 (i32.xor (i32.const 0x510e527f) (i32.wrap_i64 (local.get $count))))
    (local.set $v13 (i32.xor (i32.const 0x9b05688c)
      (i32.wrap_i64 (i64.shr_u (local.get $count) (i64.const 32)))))
    ;; The final block inverts v14: xor with 0 - 1 = all ones.
    (local.set $v14 (i32.xor (i32.const 0x1f83d9ab) (i32.sub (i32.const 0) (local.get $last))))
    (local.set $v15 (i32.const 0x5be0cd19))
    (local.set $s (i32.const 320))
    (loop $round
      ;; G0: v0 v4 v8 v12, message words sigma[0], sigma[1]
      (local.set $v0 (i32.add (i32.add (local.get $v0) (local.get $v4)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=0 (local.get $s))))))
      (local.set $v12 (i32.rotr (i32.xor (local.get $v12) (local.get $v0)) (i32.const 16)))
      (local.set $v8 (i32.add (local.get $v8) (local.get $v12)))
      (local.set $v4 (i32.rotr (i32.xor (local.get $v4) (local.get $v8)) (i32.const 12)))
      (local.set $v0 (i32.add (i32.add (local.get $v0) (local.get $v4)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=1 (local.get $s))))))
      (local.set $v12 (i32.rotr (i32.xor (local.get $v12) (local.get $v0)) (i32.const 8)))
      (local.set $v8 (i32.add (local.get $v8) (local.get $v12)))
      (local.set $v4 (i32.rotr (i32.xor (local.get $v4) (local.get $v8)) (i32.const 7)))
      ;; G1: v1 v5 v9 v13, message words sigma[2], sigma[3]
      (local.set $v1 (i32.add (i32.add (local.get $v1) (local.get $v5)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=2 (local.get $s))))))
      (local.set $v13 (i32.rotr (i32.xor (local.get $v13) (local.get $v1)) (i32.const 16)))
      (local.set $v9 (i32.add (local.get $v9) (local.get $v13)))
      (local.set $v5 (i32.rotr (i32.xor (local.get $v5) (local.get $v9)) (i32.const 12)))
      (local.set $v1 (i32.add (i32.add (local.get $v1) (local.get $v5)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=3 (local.get $s))))))
      (local.set $v13 (i32.rotr (i32.xor (local.get $v13) (local.get $v1)) (i32.const 8)))
      (local.set $v9 (i32.add (local.get $v9) (local.get $v13)))
      (local.set $v5 (i32.rotr (i32.xor (local.get $v5) (local.get $v9)) (i32.const 7)))
      ;; G2: v2 v6 v10 v14, message words sigma[4], sigma[5]
      (local.set $v2 (i32.add (i32.add (local.get $v2) (local.get $v6)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=4 (local.get $s))))))
      (local.set $v14 (i32.rotr (i32.xor (local.get $v14) (local.get $v2)) (i32.const 16)))
      (local.set $v10 (i32.add (local.get $v10) (local.get $v14)))
      (local.set $v6 (i32.rotr (i32.xor (local.get $v6) (local.get $v10)) (i32.const 12)))
      (local.set $v2 (i32.add (i32.add (local.get $v2) (local.get $v6)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=5 (local.get $s))))))
      (local.set $v14 (i32.rotr (i32.xor (local.get $v14) (local.get $v2)) (i32.const 8)))
      (local.set $v10 (i32.add (local.get $v10) (local.get $v14)))
      (local.set $v6 (i32.rotr (i32.xor (local.get $v6) (local.get $v10)) (i32.const 7)))
      ;; G3: v3 v7 v11 v15, message words sigma[6], sigma[7]
      (local.set $v3 (i32.add (i32.add (local.get $v3) (local.get $v7)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=6 (local.get $s))))))
      (local.set $v15 (i32.rotr (i32.xor (local.get $v15) (local.get $v3)) (i32.const 16)))
      (local.set $v11 (i32.add (local.get $v11) (local.get $v15)))
      (local.set $v7 (i32.rotr (i32.xor (local.get $v7) (local.get $v11)) (i32.const 12)))
      (local.set $v3 (i32.add (i32.add (local.get $v3) (local.get $v7)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=7 (local.get $s))))))
      (local.set $v15 (i32.rotr (i32.xor (local.get $v15) (local.get $v3)) (i32.const 8)))
      (local.set $v11 (i32.add (local.get $v11) (local.get $v15)))
      (local.set $v7 (i32.rotr (i32.xor (local.get $v7) (local.get $v11)) (i32.const 7)))
      ;; G4: v0 v5 v10 v15, message words sigma[8], sigma[9]
      (local.set $v0 (i32.add (i32.add (local.get $v0) (local.get $v5)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=8 (local.get $s))))))
      (local.set $v15 (i32.rotr (i32.xor (local.get $v15) (local.get $v0)) (i32.const 16)))
      (local.set $v10 (i32.add (local.get $v10) (local.get $v15)))
      (local.set $v5 (i32.rotr (i32.xor (local.get $v5) (local.get $v10)) (i32.const 12)))
      (local.set $v0 (i32.add (i32.add (local.get $v0) (local.get $v5)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=9 (local.get $s))))))
      (local.set $v15 (i32.rotr (i32.xor (local.get $v15) (local.get $v0)) (i32.const 8)))
      (local.set $v10 (i32.add (local.get $v10) (local.get $v15)))
      (local.set $v5 (i32.rotr (i32.xor (local.get $v5) (local.get $v10)) (i32.const 7)))
      ;; G5: v1 v6 v11 v12, message words sigma[10], sigma[11]
      (local.set $v1 (i32.add (i32.add (local.get $v1) (local.get $v6)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=10 (local.get $s))))))
      (local.set $v12 (i32.rotr (i32.xor (local.get $v12) (local.get $v1)) (i32.const 16)))
      (local.set $v11 (i32.add (local.get $v11) (local.get $v12)))
      (local.set $v6 (i32.rotr (i32.xor (local.get $v6) (local.get $v11)) (i32.const 12)))
      (local.set $v1 (i32.add (i32.add (local.get $v1) (local.get $v6)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=11 (local.get $s))))))
      (local.set $v12 (i32.rotr (i32.xor (local.get $v12) (local.get $v1)) (i32.const 8)))
      (local.set $v11 (i32.add (local.get $v11) (local.get $v12)))
      (local.set $v6 (i32.rotr (i32.xor (local.get $v6) (local.get $v11)) (i32.const 7)))
      ;; G6: v2 v7 v8 v13, message words sigma[12], sigma[13]
      (local.set $v2 (i32.add (i32.add (local.get $v2) (local.get $v7)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=12 (local.get $s))))))
      (local.set $v13 (i32.rotr (i32.xor (local.get $v13) (local.get $v2)) (i32.const 16)))
      (local.set $v8 (i32.add (local.get $v8) (local.get $v13)))
      (local.set $v7 (i32.rotr (i32.xor (local.get $v7) (local.get $v8)) (i32.const 12)))
      (local.set $v2 (i32.add (i32.add (local.get $v2) (local.get $v7)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=13 (local.get $s))))))
      (local.set $v13 (i32.rotr (i32.xor (local.get $v13) (local.get $v2)) (i32.const 8)))
      (local.set $v8 (i32.add (local.get $v8) (local.get $v13)))
      (local.set $v7 (i32.rotr (i32.xor (local.get $v7) (local.get $v8)) (i32.const 7)))
      ;; G7: v3 v4 v9 v14, message words sigma[14], sigma[15]
      (local.set $v3 (i32.add (i32.add (local.get $v3) (local.get $v4)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=14 (local.get $s))))))
      (local.set $v14 (i32.rotr (i32.xor (local.get $v14) (local.get $v3)) (i32.const 16)))
      (local.set $v9 (i32.add (local.get $v9) (local.get $v14)))
      (local.set $v4 (i32.rotr (i32.xor (local.get $v4) (local.get $v9)) (i32.const 12)))
      (local.set $v3 (i32.add (i32.add (local.get $v3) (local.get $v4)) (i32.load (i32.add (local.get $p) (i32.load8_u offset=15 (local.get $s))))))
      (local.set $v14 (i32.rotr (i32.xor (local.get $v14) (local.get $v3)) (i32.const 8)))
      (local.set $v9 (i32.add (local.get $v9) (local.get $v14)))
      (local.set $v4 (i32.rotr (i32.xor (local.get $v4) (local.get $v9)) (i32.const 7)))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br_if $round (i32.lt_u (local.get $s) (i32.const 480))))
    (i32.store offset=0 (i32.const 0) (i32.xor (i32.load offset=0 (i32.const 0))
      (i32.xor (local.get $v0) (local.get $v8))))
    (i32.store offset=4 (i32.const 0) (i32.xor (i32.load offset=4 (i32.const 0))
      (i32.xor (local.get $v1) (local.get $v9))))
    (i32.store offset=8 (i32.const 0) (i32.xor (i32.load offset=8 (i32.const 0))
      (i32.xor (local.get $v2) (local.get $v10))))
    (i32.store offset=12 (i32.const 0) (i32.xor (i32.load offset=12 (i32.const 0))
      (i32.xor (local.get $v3) (local.get $v11))))
    (i32.store offset=16 (i32.const 0) (i32.xor (i32.load offset=16 (i32.const 0))
      (i32.xor (local.get $v4) (local.get $v12))))
    (i32.store offset=20 (i32.const 0) (i32.xor (i32.load offset=20 (i32.const 0))
      (i32.xor (local.get $v5) (local.get $v13))))
    (i32.store offset=24 (i32.const 0) (i32.xor (i32.load offset=24 (i32.const 0))
      (i32.xor (local.get $v6) (local.get $v14))))
    (i32.store offset=28 (i32.const 0) (i32.xor (i32.load offset=28 (i32.const 0))
      (i32.xor (local.get $v7) (local.get $v15)))))

  ;; BLAKE2s-256 of [PAD, when $padded is 1] || mem[$at..$at+$len) into $out
  ;; (32 B; may overlap the input: it is written last).
  (func $digest (param $padded i32) (param $at i32) (param $len i32) (param $out i32)
    (local $count i64)
    ;; h = IV, h[0] ^= 0x01010020 (digest length 32, no key, fanout 1, depth 1)
    (v128.store offset=0 (i32.const 0)
      (v128.const i32x4 0x6b08e647 0xbb67ae85 0x3c6ef372 0xa54ff53a))
    (v128.store offset=16 (i32.const 0)
      (v128.const i32x4 0x510e527f 0x9b05688c 0x1f83d9ab 0x5be0cd19))
    (if (local.get $padded)
      (then
        (local.set $count (i64.const 64))
        ;; The pad is the last block only of an empty message.
        (call $compress (i32.const 128) (local.get $count) (i32.eqz (local.get $len)))
        (if (i32.eqz (local.get $len))
          (then
            (call $output (local.get $out))
            (return)))))
    ;; Every whole block but the last where it lies.
    (block $done
      (loop $next
        (br_if $done (i32.le_u (local.get $len) (i32.const 64)))
        (local.set $count (i64.add (local.get $count) (i64.const 64)))
        (call $compress (local.get $at) (local.get $count) (i32.const 0))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (local.set $len (i32.sub (local.get $len) (i32.const 64)))
        (br $next)))
    ;; The last block (0-64 bytes), zero-padded in BUF.
    (v128.store offset=64 (i32.const 0) (v128.const i64x2 0 0))
    (v128.store offset=80 (i32.const 0) (v128.const i64x2 0 0))
    (v128.store offset=96 (i32.const 0) (v128.const i64x2 0 0))
    (v128.store offset=112 (i32.const 0) (v128.const i64x2 0 0))
    (memory.copy (i32.const 64) (local.get $at) (local.get $len))
    (local.set $count (i64.add (local.get $count) (i64.extend_i32_u (local.get $len))))
    (call $compress (i32.const 64) (local.get $count) (i32.const 1))
    (call $output (local.get $out)))

  ;; H (the digest) to $out.
  (func $output (param $out i32)
    (v128.store offset=0 (local.get $out) (v128.load offset=0 (i32.const 0)))
    (v128.store offset=16 (local.get $out) (v128.load offset=16 (i32.const 0))))

  ;; PAD = the 64-byte zero-padded key at $key xor $fill (0x36 or 0x5c in every byte).
  (func $pad (param $fill v128) (param $key i32)
    (v128.store offset=128 (i32.const 0) (v128.xor (local.get $fill)
      (v128.load offset=0 (local.get $key))))
    (v128.store offset=144 (i32.const 0) (v128.xor (local.get $fill)
      (v128.load offset=16 (local.get $key))))
    (v128.store offset=160 (i32.const 0) (v128.xor (local.get $fill)
      (v128.load offset=32 (local.get $key))))
    (v128.store offset=176 (i32.const 0) (v128.xor (local.get $fill)
      (v128.load offset=48 (local.get $key)))))

  ;; HMAC(key, message) into $out: H(key ^ opad || H(key ^ ipad || message)).
  ;; $key: 64 bytes, zero-padded. $out may overlap the message.
  (func $hmac (param $key i32) (param $at i32) (param $len i32) (param $out i32)
    (call $pad (v128.const i32x4 0x36363636 0x36363636 0x36363636 0x36363636) (local.get $key))
    (call $digest (i32.const 1) (local.get $at) (local.get $len) (i32.const 192))
    (call $pad (v128.const i32x4 0x5c5c5c5c 0x5c5c5c5c 0x5c5c5c5c 0x5c5c5c5c) (local.get $key))
    (call $digest (i32.const 1) (i32.const 192) (i32.const 32) (local.get $out)))

  ;; Zeroes the state, the block, the pads, the HKDF key, KEY and $len input bytes.
  (func $wipe (param $len i32)
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 320))
    (v128.store offset=640 (i32.const 0) (v128.const i64x2 0 0))
    (v128.store offset=656 (i32.const 0) (v128.const i64x2 0 0))
    (v128.store offset=672 (i32.const 0) (v128.const i64x2 0 0))
    (v128.store offset=688 (i32.const 0) (v128.const i64x2 0 0))
    (memory.fill (i32.const 1024) (i32.const 0) (local.get $len)))

  ;; OUT = BLAKE2s(DATA[0..$len)).
  (func (export "hash") (param $len i32)
    (call $digest (i32.const 0) (i32.const 1024) (local.get $len) (i32.const 512))
    (call $wipe (local.get $len)))

  ;; OUT = HMAC(KEY, DATA[0..$len)); the key (<= 64 B) written into KEY's zeroes.
  (func (export "hmac") (param $len i32)
    (call $hmac (i32.const 640) (i32.const 1024) (local.get $len) (i32.const 512))
    (call $wipe (local.get $len)))

  ;; OUT = HKDF(KEY[0..32), DATA[0..$len), $n) (Noise §4.3), $n = 2 or 3:
  ;; temp = HMAC(ck, ikm); out1 = HMAC(temp, 0x01); out_i = HMAC(temp, out_i-1 || i).
  ;; Each message is built in OUT where its output goes: the inner digest has
  ;; read it before the output is written.
  (func (export "hkdf") (param $len i32) (param $n i32)
    (call $hmac (i32.const 640) (i32.const 1024) (local.get $len) (i32.const 224))
    (i32.store8 offset=512 (i32.const 0) (i32.const 1))
    (call $hmac (i32.const 224) (i32.const 512) (i32.const 1) (i32.const 512))
    (i32.store8 offset=544 (i32.const 0) (i32.const 2))
    (call $hmac (i32.const 224) (i32.const 512) (i32.const 33) (i32.const 544))
    (if (i32.eq (local.get $n) (i32.const 3))
      (then
        (i32.store8 offset=576 (i32.const 0) (i32.const 3))
        (call $hmac (i32.const 224) (i32.const 544) (i32.const 33) (i32.const 576))))
    (call $wipe (local.get $len))))
