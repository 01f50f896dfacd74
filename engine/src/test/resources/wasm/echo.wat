;; Emits the message it is given back under the key "echo", with the whole input message as the body, using the
;; general "emit" import: the output JSON {"key":"echo","body":<message>} is assembled in memory around the input.
;; It also logs "echo" through the "log" import.
;; Build: wat2wasm echo.wat -o echo.wasm   (Debian package wabt)
(module
  (import "junction" "emit" (func $emit (param i32 i32)))
  (import "junction" "log" (func $log (param i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "{\"key\":\"echo\",\"body\":")
  ;; the prefix is 21 bytes; the host writes the message right after it, at 21
  (func (export "alloc") (param $len i32) (result i32)
    (if (i32.gt_u (local.get $len) (i32.const 131000)) (then (return (i32.const -1))))
    (i32.const 21))
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    ;; close the object after the message: "}"
    (i32.store8 (i32.add (local.get $ptr) (local.get $len)) (i32.const 125))
    (call $emit (i32.const 0) (i32.add (i32.add (local.get $len) (i32.const 21)) (i32.const 1)))
    (call $log (i32.const 8) (i32.const 4))
    (i32.const 0))
)
