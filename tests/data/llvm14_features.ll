; IR using LLVM 11-14 features that CompilerGym's LLVM 10 cannot read as is.
define dso_local noundef i32 @pick(i32 noundef %a, i32 noundef %b) #0 {
  %v = insertelement <2 x i32> poison, i32 %a, i32 0
  %w = insertelement <2 x i32> %v, i32 %b, i32 1
  %x = extractelement <2 x i32> %w, i32 1
  ret i32 %x
}

define dso_local i32 @main() #1 {
  %r = call noundef i32 @pick(i32 noundef 1, i32 noundef 2)
  ret i32 0
}

attributes #0 = { mustprogress noinline nounwind vscale_range(1,16) "noundef"="kept" }
attributes #1 = { mustprogress nounwind }
