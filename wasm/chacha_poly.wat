;; ChaCha20-Poly1305 (RFC 8439) with the Noise nonce layout (4 zero bytes,
;; then a 64-bit counter, little-endian), for CommuCat's transport messages.
;; The counter comes as two i32 words ($nlo, $nhi): JavaScript passes plain
;; numbers (an i64 parameter would take a BigInt, one allocation per message).
;;
;; Built by wasm/build.ts (wabt) into src/crypto/noise/chacha_poly_wasm.ts;
;; used by src/crypto/noise/wasm_chacha_poly.ts. See wasm/README.md.
;;
;; Memory layout (one instance per isolate, set up once):
;;   0    KEY     32 B  the key, written by the caller before each call
;;   32   TAGIN   16 B  the received tag (open)
;;   48   LENBLK  16 B  Poly1305 length block: len(ad), len(ct) as u64 LE
;;   64   KS     128 B  two ChaCha20 key-stream blocks; block 0 of a message
;;                      holds the one-time Poly1305 key
;;   320  TAGOUT  16 B  the computed tag (open)
;;   336  POLYKEY 32 B  the one-time Poly1305 key (r, s), from block 0
;;   512  DATA          ad, zero-padded to 16 bytes, then the message, then
;;                      room for its padding and the 16-byte tag
;; Every call ends by zeroing bytes 0..512 (key, key stream, tags).
;;
;; Constant time: no branch or memory index depends on the key, the key
;; stream or the data; the one data-dependent branch is on the outcome of the
;; tag comparison (public). ChaCha20 runs two blocks at a time, each as four
;; 128-bit rows (one row per vector, interleaved for instruction-level
;; parallelism; four blocks in lanes measured no faster per block and wastes
;; blocks on short messages); Poly1305 uses five 26-bit limbs in 64-bit
;; arithmetic (poly1305-donna-32).
(module
  (memory (export "memory") 2)

  ;; Two ChaCha20 blocks, counters $ctr and $ctr+1, into $out and $out+64:
  ;; one block per four vectors (rows), the two interleaved for parallelism.
  (func $chacha2 (param $ctr i32) (param $nlo i32) (param $nhi i32) (param $out i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $e v128) (local $f v128) (local $g v128) (local $h v128)
    (local $i i32)
    (local.set $a (v128.const i32x4 0x61707865 0x3320646e 0x79622d32 0x6b206574))
    (local.set $b (v128.load offset=0 (i32.const 0)))
    (local.set $c (v128.load offset=16 (i32.const 0)))
    (local.set $d (i32x4.replace_lane 0
      (i32x4.replace_lane 3 (i32x4.replace_lane 2 (v128.const i32x4 0 0 0 0)
        (local.get $nlo)) (local.get $nhi))
      (local.get $ctr)))
    (local.set $e (local.get $a))
    (local.set $f (local.get $b))
    (local.set $g (local.get $c))
    (local.set $h (i32x4.add (local.get $d) (v128.const i32x4 1 0 0 0)))
    (local.set $i (i32.const 10))
    (loop $rounds
      ;; column round, both blocks
      (local.set $a (i32x4.add (local.get $a) (local.get $b)))
      (local.set $e (i32x4.add (local.get $e) (local.get $f)))
      (local.set $d (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13
        (local.tee $d (v128.xor (local.get $d) (local.get $a))) (local.get $d)))
      (local.set $h (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13
        (local.tee $h (v128.xor (local.get $h) (local.get $e))) (local.get $h)))
      (local.set $c (i32x4.add (local.get $c) (local.get $d)))
      (local.set $g (i32x4.add (local.get $g) (local.get $h)))
      (local.set $b (v128.or
        (i32x4.shl (local.tee $b (v128.xor (local.get $b) (local.get $c))) (i32.const 12))
        (i32x4.shr_u (local.get $b) (i32.const 20))))
      (local.set $f (v128.or
        (i32x4.shl (local.tee $f (v128.xor (local.get $f) (local.get $g))) (i32.const 12))
        (i32x4.shr_u (local.get $f) (i32.const 20))))
      (local.set $a (i32x4.add (local.get $a) (local.get $b)))
      (local.set $e (i32x4.add (local.get $e) (local.get $f)))
      (local.set $d (i8x16.shuffle 3 0 1 2 7 4 5 6 11 8 9 10 15 12 13 14
        (local.tee $d (v128.xor (local.get $d) (local.get $a))) (local.get $d)))
      (local.set $h (i8x16.shuffle 3 0 1 2 7 4 5 6 11 8 9 10 15 12 13 14
        (local.tee $h (v128.xor (local.get $h) (local.get $e))) (local.get $h)))
      (local.set $c (i32x4.add (local.get $c) (local.get $d)))
      (local.set $g (i32x4.add (local.get $g) (local.get $h)))
      (local.set $b (v128.or
        (i32x4.shl (local.tee $b (v128.xor (local.get $b) (local.get $c))) (i32.const 7))
        (i32x4.shr_u (local.get $b) (i32.const 25))))
      (local.set $f (v128.or
        (i32x4.shl (local.tee $f (v128.xor (local.get $f) (local.get $g))) (i32.const 7))
        (i32x4.shr_u (local.get $f) (i32.const 25))))
      ;; diagonalise: lane i of b, c, d moves to lane i-1, i-2, i-3
      (local.set $b (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $b) (local.get $b)))
      (local.set $f (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $f) (local.get $f)))
      (local.set $c (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c) (local.get $c)))
      (local.set $g (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $g) (local.get $g)))
      (local.set $d (i8x16.shuffle 12 13 14 15 0 1 2 3 4 5 6 7 8 9 10 11 (local.get $d) (local.get $d)))
      (local.set $h (i8x16.shuffle 12 13 14 15 0 1 2 3 4 5 6 7 8 9 10 11 (local.get $h) (local.get $h)))
      ;; diagonal round, both blocks
      (local.set $a (i32x4.add (local.get $a) (local.get $b)))
      (local.set $e (i32x4.add (local.get $e) (local.get $f)))
      (local.set $d (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13
        (local.tee $d (v128.xor (local.get $d) (local.get $a))) (local.get $d)))
      (local.set $h (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13
        (local.tee $h (v128.xor (local.get $h) (local.get $e))) (local.get $h)))
      (local.set $c (i32x4.add (local.get $c) (local.get $d)))
      (local.set $g (i32x4.add (local.get $g) (local.get $h)))
      (local.set $b (v128.or
        (i32x4.shl (local.tee $b (v128.xor (local.get $b) (local.get $c))) (i32.const 12))
        (i32x4.shr_u (local.get $b) (i32.const 20))))
      (local.set $f (v128.or
        (i32x4.shl (local.tee $f (v128.xor (local.get $f) (local.get $g))) (i32.const 12))
        (i32x4.shr_u (local.get $f) (i32.const 20))))
      (local.set $a (i32x4.add (local.get $a) (local.get $b)))
      (local.set $e (i32x4.add (local.get $e) (local.get $f)))
      (local.set $d (i8x16.shuffle 3 0 1 2 7 4 5 6 11 8 9 10 15 12 13 14
        (local.tee $d (v128.xor (local.get $d) (local.get $a))) (local.get $d)))
      (local.set $h (i8x16.shuffle 3 0 1 2 7 4 5 6 11 8 9 10 15 12 13 14
        (local.tee $h (v128.xor (local.get $h) (local.get $e))) (local.get $h)))
      (local.set $c (i32x4.add (local.get $c) (local.get $d)))
      (local.set $g (i32x4.add (local.get $g) (local.get $h)))
      (local.set $b (v128.or
        (i32x4.shl (local.tee $b (v128.xor (local.get $b) (local.get $c))) (i32.const 7))
        (i32x4.shr_u (local.get $b) (i32.const 25))))
      (local.set $f (v128.or
        (i32x4.shl (local.tee $f (v128.xor (local.get $f) (local.get $g))) (i32.const 7))
        (i32x4.shr_u (local.get $f) (i32.const 25))))
      ;; back to columns
      (local.set $b (i8x16.shuffle 12 13 14 15 0 1 2 3 4 5 6 7 8 9 10 11 (local.get $b) (local.get $b)))
      (local.set $f (i8x16.shuffle 12 13 14 15 0 1 2 3 4 5 6 7 8 9 10 11 (local.get $f) (local.get $f)))
      (local.set $c (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c) (local.get $c)))
      (local.set $g (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $g) (local.get $g)))
      (local.set $d (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $d) (local.get $d)))
      (local.set $h (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $h) (local.get $h)))
      (br_if $rounds (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
    (v128.store offset=0 (local.get $out)
      (i32x4.add (local.get $a) (v128.const i32x4 0x61707865 0x3320646e 0x79622d32 0x6b206574)))
    (v128.store offset=16 (local.get $out)
      (i32x4.add (local.get $b) (v128.load offset=0 (i32.const 0))))
    (v128.store offset=32 (local.get $out)
      (i32x4.add (local.get $c) (v128.load offset=16 (i32.const 0))))
    (v128.store offset=48 (local.get $out) (i32x4.add (local.get $d)
      (i32x4.replace_lane 0
        (i32x4.replace_lane 3 (i32x4.replace_lane 2 (v128.const i32x4 0 0 0 0)
          (local.get $nlo)) (local.get $nhi))
        (local.get $ctr))))
    (v128.store offset=64 (local.get $out)
      (i32x4.add (local.get $e) (v128.const i32x4 0x61707865 0x3320646e 0x79622d32 0x6b206574)))
    (v128.store offset=80 (local.get $out)
      (i32x4.add (local.get $f) (v128.load offset=0 (i32.const 0))))
    (v128.store offset=96 (local.get $out)
      (i32x4.add (local.get $g) (v128.load offset=16 (i32.const 0))))
    (v128.store offset=112 (local.get $out) (i32x4.add (local.get $h)
      (i32x4.replace_lane 0
        (i32x4.replace_lane 3 (i32x4.replace_lane 2 (v128.const i32x4 0 0 0 0)
          (local.get $nlo)) (local.get $nhi))
        (i32.add (local.get $ctr) (i32.const 1))))))

  ;; XORs [$p, $p + $len) with the key stream at $ks, 16 bytes at a time
  ;; (the last step may run up to 15 bytes past $len: callers allow for it).
  (func $xor (param $p i32) (param $len i32) (param $ks i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (block $done
      (loop $lanes
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (v128.store (local.get $p)
          (v128.xor (v128.load (local.get $p)) (v128.load (local.get $ks))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $ks (i32.add (local.get $ks) (i32.const 16)))
        (br $lanes))))

  ;; Encrypts (or decrypts) [$p, $p + $len) from block counter 1 on: block 1
  ;; is in KS already (from the call that made the Poly1305 key).
  (func $crypt (param $p i32) (param $len i32) (param $nlo i32) (param $nhi i32)
    (local $ctr i32)
    (if (i32.le_u (local.get $len) (i32.const 64))
      (then
        (call $xor (local.get $p) (local.get $len) (i32.const 128))
        (return)))
    (call $xor (local.get $p) (i32.const 64) (i32.const 128))
    (local.set $p (i32.add (local.get $p) (i32.const 64)))
    (local.set $len (i32.sub (local.get $len) (i32.const 64)))
    (local.set $ctr (i32.const 2))
    (loop $pairs
      (call $chacha2 (local.get $ctr) (local.get $nlo) (local.get $nhi) (i32.const 64))
      (if (i32.le_u (local.get $len) (i32.const 128))
        (then
          (call $xor (local.get $p) (local.get $len) (i32.const 64))
          (return)))
      (call $xor (local.get $p) (i32.const 128) (i32.const 64))
      (local.set $p (i32.add (local.get $p) (i32.const 128)))
      (local.set $len (i32.sub (local.get $len) (i32.const 128)))
      (local.set $ctr (i32.add (local.get $ctr) (i32.const 2)))
      (br $pairs)))

  ;; Poly1305 with the key at POLYKEY over ad || pad || msg || pad || LENBLK (the
  ;; pads are zero in memory: see $prepare); the tag goes to $out.
  (func $mac (param $ad i32) (param $adLen i32) (param $msg i32) (param $msgLen i32)
    (param $out i32)
    (local $r0 i64) (local $r1 i64) (local $r2 i64) (local $r3 i64) (local $r4 i64)
    (local $s1 i64) (local $s2 i64) (local $s3 i64) (local $s4 i64)
    (local $h0 i64) (local $h1 i64) (local $h2 i64) (local $h3 i64) (local $h4 i64)
    (local $d0 i64) (local $d1 i64) (local $d2 i64) (local $d3 i64) (local $d4 i64)
    (local $g0 i64) (local $g1 i64) (local $g2 i64) (local $g3 i64) (local $g4 i64)
    (local $lo i64) (local $hi i64) (local $c i64) (local $mask i64)
    (local $p i32) (local $end i32) (local $segment i32)
    ;; r = key[0..16] clamped, as 26-bit limbs
    (local.set $lo (i64.load offset=336 (i32.const 0)))
    (local.set $hi (i64.load offset=344 (i32.const 0)))
    (local.set $r0 (i64.and (local.get $lo) (i64.const 0x3ffffff)))
    (local.set $r1 (i64.and (i64.shr_u (local.get $lo) (i64.const 26)) (i64.const 0x3ffff03)))
    (local.set $r2 (i64.and
      (i64.or (i64.shr_u (local.get $lo) (i64.const 52)) (i64.shl (local.get $hi) (i64.const 12)))
      (i64.const 0x3ffc0ff)))
    (local.set $r3 (i64.and (i64.shr_u (local.get $hi) (i64.const 14)) (i64.const 0x3f03fff)))
    (local.set $r4 (i64.and (i64.shr_u (local.get $hi) (i64.const 40)) (i64.const 0x00fffff)))
    (local.set $s1 (i64.mul (local.get $r1) (i64.const 5)))
    (local.set $s2 (i64.mul (local.get $r2) (i64.const 5)))
    (local.set $s3 (i64.mul (local.get $r3) (i64.const 5)))
    (local.set $s4 (i64.mul (local.get $r4) (i64.const 5)))
    ;; three segments: ad, msg, the length block; each a whole number of 16-byte blocks
    (local.set $p (local.get $ad))
    (local.set $end (i32.add (local.get $ad)
      (i32.and (i32.add (local.get $adLen) (i32.const 15)) (i32.const -16))))
    (loop $segments
      (block $segment_done
        (loop $blocks
          (br_if $segment_done (i32.ge_u (local.get $p) (local.get $end)))
          (local.set $lo (i64.load (local.get $p)))
          (local.set $hi (i64.load offset=8 (local.get $p)))
          (local.set $h0 (i64.add (local.get $h0)
            (i64.and (local.get $lo) (i64.const 0x3ffffff))))
          (local.set $h1 (i64.add (local.get $h1)
            (i64.and (i64.shr_u (local.get $lo) (i64.const 26)) (i64.const 0x3ffffff))))
          (local.set $h2 (i64.add (local.get $h2)
            (i64.and
              (i64.or (i64.shr_u (local.get $lo) (i64.const 52))
                (i64.shl (local.get $hi) (i64.const 12)))
              (i64.const 0x3ffffff))))
          (local.set $h3 (i64.add (local.get $h3)
            (i64.and (i64.shr_u (local.get $hi) (i64.const 14)) (i64.const 0x3ffffff))))
          (local.set $h4 (i64.add (local.get $h4)
            (i64.or (i64.shr_u (local.get $hi) (i64.const 40)) (i64.const 0x1000000))))
          ;; h *= r (mod 2^130 - 5)
          (local.set $d0 (i64.add (i64.add (i64.add (i64.add
            (i64.mul (local.get $h0) (local.get $r0))
            (i64.mul (local.get $h1) (local.get $s4)))
            (i64.mul (local.get $h2) (local.get $s3)))
            (i64.mul (local.get $h3) (local.get $s2)))
            (i64.mul (local.get $h4) (local.get $s1))))
          (local.set $d1 (i64.add (i64.add (i64.add (i64.add
            (i64.mul (local.get $h0) (local.get $r1))
            (i64.mul (local.get $h1) (local.get $r0)))
            (i64.mul (local.get $h2) (local.get $s4)))
            (i64.mul (local.get $h3) (local.get $s3)))
            (i64.mul (local.get $h4) (local.get $s2))))
          (local.set $d2 (i64.add (i64.add (i64.add (i64.add
            (i64.mul (local.get $h0) (local.get $r2))
            (i64.mul (local.get $h1) (local.get $r1)))
            (i64.mul (local.get $h2) (local.get $r0)))
            (i64.mul (local.get $h3) (local.get $s4)))
            (i64.mul (local.get $h4) (local.get $s3))))
          (local.set $d3 (i64.add (i64.add (i64.add (i64.add
            (i64.mul (local.get $h0) (local.get $r3))
            (i64.mul (local.get $h1) (local.get $r2)))
            (i64.mul (local.get $h2) (local.get $r1)))
            (i64.mul (local.get $h3) (local.get $r0)))
            (i64.mul (local.get $h4) (local.get $s4))))
          (local.set $d4 (i64.add (i64.add (i64.add (i64.add
            (i64.mul (local.get $h0) (local.get $r4))
            (i64.mul (local.get $h1) (local.get $r3)))
            (i64.mul (local.get $h2) (local.get $r2)))
            (i64.mul (local.get $h3) (local.get $r1)))
            (i64.mul (local.get $h4) (local.get $r0))))
          ;; partial carry
          (local.set $d1 (i64.add (local.get $d1) (i64.shr_u (local.get $d0) (i64.const 26))))
          (local.set $h0 (i64.and (local.get $d0) (i64.const 0x3ffffff)))
          (local.set $d2 (i64.add (local.get $d2) (i64.shr_u (local.get $d1) (i64.const 26))))
          (local.set $h1 (i64.and (local.get $d1) (i64.const 0x3ffffff)))
          (local.set $d3 (i64.add (local.get $d3) (i64.shr_u (local.get $d2) (i64.const 26))))
          (local.set $h2 (i64.and (local.get $d2) (i64.const 0x3ffffff)))
          (local.set $d4 (i64.add (local.get $d4) (i64.shr_u (local.get $d3) (i64.const 26))))
          (local.set $h3 (i64.and (local.get $d3) (i64.const 0x3ffffff)))
          (local.set $c (i64.shr_u (local.get $d4) (i64.const 26)))
          (local.set $h4 (i64.and (local.get $d4) (i64.const 0x3ffffff)))
          (local.set $h0 (i64.add (local.get $h0) (i64.mul (local.get $c) (i64.const 5))))
          (local.set $h1 (i64.add (local.get $h1) (i64.shr_u (local.get $h0) (i64.const 26))))
          (local.set $h0 (i64.and (local.get $h0) (i64.const 0x3ffffff)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br $blocks)))
      (local.set $segment (i32.add (local.get $segment) (i32.const 1)))
      (if (i32.eq (local.get $segment) (i32.const 1))
        (then
          (local.set $p (local.get $msg))
          (local.set $end (i32.add (local.get $msg)
            (i32.and (i32.add (local.get $msgLen) (i32.const 15)) (i32.const -16))))
          (br $segments)))
      (if (i32.eq (local.get $segment) (i32.const 2))
        (then
          (local.set $p (i32.const 48))
          (local.set $end (i32.const 64))
          (br $segments))))
    ;; full carry
    (local.set $h2 (i64.add (local.get $h2) (i64.shr_u (local.get $h1) (i64.const 26))))
    (local.set $h1 (i64.and (local.get $h1) (i64.const 0x3ffffff)))
    (local.set $h3 (i64.add (local.get $h3) (i64.shr_u (local.get $h2) (i64.const 26))))
    (local.set $h2 (i64.and (local.get $h2) (i64.const 0x3ffffff)))
    (local.set $h4 (i64.add (local.get $h4) (i64.shr_u (local.get $h3) (i64.const 26))))
    (local.set $h3 (i64.and (local.get $h3) (i64.const 0x3ffffff)))
    (local.set $h0 (i64.add (local.get $h0)
      (i64.mul (i64.shr_u (local.get $h4) (i64.const 26)) (i64.const 5))))
    (local.set $h4 (i64.and (local.get $h4) (i64.const 0x3ffffff)))
    (local.set $h1 (i64.add (local.get $h1) (i64.shr_u (local.get $h0) (i64.const 26))))
    (local.set $h0 (i64.and (local.get $h0) (i64.const 0x3ffffff)))
    ;; g = h + 5 - 2^130; keep h when that borrows (h < p), else g
    (local.set $g0 (i64.add (local.get $h0) (i64.const 5)))
    (local.set $g1 (i64.add (local.get $h1) (i64.shr_u (local.get $g0) (i64.const 26))))
    (local.set $g0 (i64.and (local.get $g0) (i64.const 0x3ffffff)))
    (local.set $g2 (i64.add (local.get $h2) (i64.shr_u (local.get $g1) (i64.const 26))))
    (local.set $g1 (i64.and (local.get $g1) (i64.const 0x3ffffff)))
    (local.set $g3 (i64.add (local.get $h3) (i64.shr_u (local.get $g2) (i64.const 26))))
    (local.set $g2 (i64.and (local.get $g2) (i64.const 0x3ffffff)))
    (local.set $g4 (i64.sub
      (i64.add (local.get $h4) (i64.shr_u (local.get $g3) (i64.const 26)))
      (i64.const 0x4000000)))
    (local.set $g3 (i64.and (local.get $g3) (i64.const 0x3ffffff)))
    ;; mask: all ones when g4 did not borrow
    (local.set $mask (i64.sub (i64.shr_u (local.get $g4) (i64.const 63)) (i64.const 1)))
    (local.set $h0 (i64.or (i64.and (local.get $g0) (local.get $mask))
      (i64.and (local.get $h0) (i64.xor (local.get $mask) (i64.const -1)))))
    (local.set $h1 (i64.or (i64.and (local.get $g1) (local.get $mask))
      (i64.and (local.get $h1) (i64.xor (local.get $mask) (i64.const -1)))))
    (local.set $h2 (i64.or (i64.and (local.get $g2) (local.get $mask))
      (i64.and (local.get $h2) (i64.xor (local.get $mask) (i64.const -1)))))
    (local.set $h3 (i64.or (i64.and (local.get $g3) (local.get $mask))
      (i64.and (local.get $h3) (i64.xor (local.get $mask) (i64.const -1)))))
    (local.set $h4 (i64.or (i64.and (local.get $g4) (local.get $mask))
      (i64.and (local.get $h4) (i64.xor (local.get $mask) (i64.const -1)))))
    ;; h as two 64-bit words (mod 2^128), plus s = key[16..32]
    (local.set $lo (i64.or (i64.or (local.get $h0) (i64.shl (local.get $h1) (i64.const 26)))
      (i64.shl (local.get $h2) (i64.const 52))))
    (local.set $hi (i64.or (i64.or (i64.shr_u (local.get $h2) (i64.const 12))
      (i64.shl (local.get $h3) (i64.const 14))) (i64.shl (local.get $h4) (i64.const 40))))
    ;; 128-bit add in 32-bit halves so the carry is explicit
    (local.set $d0 (i64.add (i64.and (local.get $lo) (i64.const 0xffffffff))
      (i64.load32_u offset=352 (i32.const 0))))
    (local.set $d1 (i64.add (i64.add (i64.shr_u (local.get $lo) (i64.const 32))
      (i64.load32_u offset=356 (i32.const 0))) (i64.shr_u (local.get $d0) (i64.const 32))))
    (local.set $d2 (i64.add (i64.add (i64.and (local.get $hi) (i64.const 0xffffffff))
      (i64.load32_u offset=360 (i32.const 0))) (i64.shr_u (local.get $d1) (i64.const 32))))
    (local.set $d3 (i64.add (i64.add (i64.shr_u (local.get $hi) (i64.const 32))
      (i64.load32_u offset=364 (i32.const 0))) (i64.shr_u (local.get $d2) (i64.const 32))))
    (i64.store32 offset=0 (local.get $out) (local.get $d0))
    (i64.store32 offset=4 (local.get $out) (local.get $d1))
    (i64.store32 offset=8 (local.get $out) (local.get $d2))
    (i64.store32 offset=12 (local.get $out) (local.get $d3)))

  ;; The message's offset: DATA + ad rounded up to 16 bytes.
  (func $msgAt (param $adLen i32) (result i32)
    (i32.add (i32.const 512)
      (i32.and (i32.add (local.get $adLen) (i32.const 15)) (i32.const -16))))

  ;; Zeroes the Poly1305 padding after ad and after the message, writes the
  ;; length block, makes key-stream blocks 0 and 1 and copies the Poly1305 key
  ;; (block 0's first 32 bytes) to POLYKEY.
  (func $prepare (param $adLen i32) (param $msg i32) (param $msgLen i32)
    (param $nlo i32) (param $nhi i32)
    (memory.fill (i32.add (i32.const 512) (local.get $adLen)) (i32.const 0)
      (i32.sub (local.get $msg) (i32.add (i32.const 512) (local.get $adLen))))
    (memory.fill (i32.add (local.get $msg) (local.get $msgLen)) (i32.const 0)
      (i32.and (i32.sub (i32.const 0) (local.get $msgLen)) (i32.const 15)))
    (i64.store offset=48 (i32.const 0) (i64.extend_i32_u (local.get $adLen)))
    (i64.store offset=56 (i32.const 0) (i64.extend_i32_u (local.get $msgLen)))
    (call $chacha2 (i32.const 0) (local.get $nlo) (local.get $nhi) (i32.const 64))
    (memory.copy (i32.const 336) (i32.const 64) (i32.const 32)))

  ;; Seals the message at $msgAt(adLen) in place and writes the tag after it.
  ;; The key is at KEY, the ad at DATA. Wipes KEY and the scratch after.
  (func (export "seal") (param $adLen i32) (param $msgLen i32) (param $nlo i32) (param $nhi i32)
    (local $msg i32)
    (local.set $msg (call $msgAt (local.get $adLen)))
    (call $prepare (local.get $adLen) (local.get $msg) (local.get $msgLen)
      (local.get $nlo) (local.get $nhi))
    (call $crypt (local.get $msg) (local.get $msgLen) (local.get $nlo) (local.get $nhi))
    ;; the key stream ran up to 15 bytes into the padding: zero it again
    (memory.fill (i32.add (local.get $msg) (local.get $msgLen)) (i32.const 0)
      (i32.and (i32.sub (i32.const 0) (local.get $msgLen)) (i32.const 15)))
    (call $mac (i32.const 512) (local.get $adLen) (local.get $msg) (local.get $msgLen)
      (i32.add (local.get $msg) (local.get $msgLen)))
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 512)))

  ;; Checks the tag that follows the message at $msgAt(adLen); if it is
  ;; right, decrypts the message in place and returns 1, else returns 0 and
  ;; leaves the message as it was. Wipes KEY and the scratch after.
  (func (export "open") (param $adLen i32) (param $msgLen i32) (param $nlo i32) (param $nhi i32)
    (result i32)
    (local $msg i32) (local $ok i32)
    (local.set $msg (call $msgAt (local.get $adLen)))
    (v128.store offset=32 (i32.const 0)
      (v128.load (i32.add (local.get $msg) (local.get $msgLen))))
    (call $prepare (local.get $adLen) (local.get $msg) (local.get $msgLen)
      (local.get $nlo) (local.get $nhi))
    (call $mac (i32.const 512) (local.get $adLen) (local.get $msg) (local.get $msgLen)
      (i32.const 320))
    (local.set $ok (i64.eqz (i64.or
      (i64.xor (i64.load offset=320 (i32.const 0)) (i64.load offset=32 (i32.const 0)))
      (i64.xor (i64.load offset=328 (i32.const 0)) (i64.load offset=40 (i32.const 0))))))
    (if (local.get $ok)
      (then
        (call $crypt (local.get $msg) (local.get $msgLen) (local.get $nlo) (local.get $nhi))))
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 512))
    (local.get $ok))
)
