; A tiny library module without main(): it can be optimized but not run.
define i32 @add3(i32 %a, i32 %b, i32 %c) {
entry:
  %x = alloca i32
  store i32 %a, i32* %x
  %v = load i32, i32* %x
  %s = add i32 %v, %b
  %t = add i32 %s, %c
  ret i32 %t
}
