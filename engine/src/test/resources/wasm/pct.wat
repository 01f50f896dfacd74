;; The percent transform of the engine's tests, as a WASM module following the engine's ABI:
;; for a message {"key": K, "body": {"value": V, ...}} it emits {"key": K + "_pct", "body": {"value": V * 100 / 255}}.
;; Build: wat2wasm pct.wat -o pct.wasm   (Debian package wabt)
(module
  (import "junction" "input_key" (func $input_key (param i32 i32) (result i32)))
  (import "junction" "input_number" (func $input_number (param i32 i32) (result f64)))
  (import "junction" "emit_value" (func $emit_value (param i32 i32 f64)))
  (memory (export "memory") 2)
  ;; 0..5: the field name "value"; 8..12: the key suffix "_pct"
  (data (i32.const 0) "value")
  (data (i32.const 8) "_pct")
  ;; The host writes each message at 65536 (the second page): messages up to 64 KiB.
  (func (export "alloc") (param $len i32) (result i32)
    (if (i32.gt_u (local.get $len) (i32.const 65536)) (then (return (i32.const -1))))
    (i32.const 65536))
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (local $klen i32)
    ;; the key goes to 1024, with room for 1024 bytes and the suffix
    (local.set $klen (call $input_key (i32.const 1024) (i32.const 1024)))
    (if (i32.gt_u (local.get $klen) (i32.const 1024)) (then (return (i32.const 1))))
    (memory.copy (i32.add (i32.const 1024) (local.get $klen)) (i32.const 8) (i32.const 4))
    (call $emit_value
      (i32.const 1024) (i32.add (local.get $klen) (i32.const 4))
      (f64.div (f64.mul (call $input_number (i32.const 0) (i32.const 5)) (f64.const 100)) (f64.const 255)))
    (i32.const 0))
)
