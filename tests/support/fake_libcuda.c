/* A stand-in libcuda for CPU machines: answers the driver API calls the probe makes.
 * FAKE_CUINIT sets cuInit's result (34: stub library, 100: no device, ...);
 * FAKE_DEVICES the device count; FAKE_LOAD the result of cuModuleLoadData (222: PTX too new).
 * cuLaunchKernel really runs the probe's kernel on the host: out[i] = 3 * i + 7, unless
 * FAKE_WRONG is set, which corrupts one value (a GPU computing wrong numbers). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int env_int(const char *name, int dflt) { const char *v = getenv(name); return v ? atoi(v) : dflt; }

int cuInit(unsigned flags) { (void)flags; return env_int("FAKE_CUINIT", 0); }
int cuDriverGetVersion(int *v) { *v = 12080; return 0; }
int cuDeviceGetCount(int *n) { *n = env_int("FAKE_DEVICES", 1); return 0; }
int cuDeviceGet(int *d, int i) { *d = i; return 0; }
int cuDeviceGetName(char *buf, int len, int d) { (void)d; strncpy(buf, "Fake GPU", len); return 0; }
int cuDeviceGetAttribute(int *v, int attr, int d) { (void)d; *v = attr == 75 ? 9 : (attr == 76 ? 0 : 132); return 0; }
int cuDeviceTotalMem_v2(size_t *b, int d) { (void)d; *b = (size_t)80 << 30; return 0; }
int cuCtxCreate_v2(void **c, unsigned f, int d) { (void)f; (void)d; *c = (void *)0x1; return 0; }
int cuCtxDestroy_v2(void *c) { (void)c; return 0; }
int cuModuleLoadData(void **m, const void *img) { (void)img; *m = (void *)0x2; return env_int("FAKE_LOAD", 0); }
int cuModuleUnload(void *m) { (void)m; return 0; }
int cuModuleGetFunction(void **f, void *m, const char *n) { (void)m; (void)n; *f = (void *)0x3; return 0; }
int cuMemAlloc_v2(uint64_t *p, size_t bytes) { *p = (uint64_t)(uintptr_t)malloc(bytes); return 0; }
int cuMemFree_v2(uint64_t p) { free((void *)(uintptr_t)p); return 0; }
int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shared, void *stream, void **params, void **extra) {
  (void)f; (void)gy; (void)gz; (void)by; (void)bz; (void)shared; (void)stream; (void)extra;
  uint32_t *out = (uint32_t *)(uintptr_t)(*(uint64_t *)params[0]);
  uint32_t n = *(uint32_t *)params[1];
  for (uint32_t i = 0; i < n && i < gx * bx; i++) out[i] = 3 * i + 7;
  if (getenv("FAKE_WRONG") && n > 5) out[5] = 0;
  return 0;
}
int cuCtxSynchronize(void) { return 0; }
int cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes) { memcpy(dst, (void *)(uintptr_t)src, bytes); return 0; }
int cuGetErrorName(int code, const char **s) { (void)code; (void)s; return 1; }
