// SPDX-License-Identifier: Apache-2.0
// ThreadSanitizer suppressions for third-party GPU driver code, linked into
// every test that creates a Vulkan device. Mesa's lavapipe (and LLVM and the
// validation layer under it), GLFW and Xlib are not built with TSan, so TSan
// reports races entirely inside them (e.g. pthread_mutex_destroy against a
// lock between two llvmpipe threads, or a lock order inside the validation
// layer as the HUD creates its pipeline). Only those libraries are named:
// our own code is still checked.
#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_suppressions() {
  return "race:libvulkan_lvp.so\n"
         "race:libLLVM-15.so.1\n"
         "race:libVkLayer_khronos_validation.so\n"
         "mutex:libvulkan_lvp.so\n"
         "deadlock:libvulkan_lvp.so\n"
         "mutex:libVkLayer_khronos_validation.so\n"
         "deadlock:libVkLayer_khronos_validation.so\n"
         "race:libglfw.so.3\n"
         "race:libX11.so.6\n";
}
#endif
