;; A module whose process never returns: the time limit must stop it.
;; Build: wat2wasm spin.wat -o spin.wasm   (Debian package wabt)
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param $len i32) (result i32) (i32.const 0))
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0))
)
