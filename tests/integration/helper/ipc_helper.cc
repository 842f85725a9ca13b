// ipc_helper: a static program the integration tests bind-mount into an
// instance (the busybox image has no ipcmk). It makes SysV IPC objects.
//
//   ipc_helper create KEY   make a shared memory segment, a semaphore set and
//                           a message queue with key KEY (IPC_EXCL: fails with
//                           exit 1 when any of them already exists)
//
// The objects outlive the helper: they live as long as the IPC namespace.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

int main(int argc, char** argv) {
  if (argc != 3 || strcmp(argv[1], "create") != 0) {
    fprintf(stderr, "usage: ipc_helper create KEY\n");
    return 2;
  }
  char* end = nullptr;
  long key = strtol(argv[2], &end, 0);
  if (*argv[2] == '\0' || *end != '\0' || key <= 0) {
    fprintf(stderr, "ipc_helper: bad key \"%s\"\n", argv[2]);
    return 2;
  }
  const int flags = IPC_CREAT | IPC_EXCL | 0600;
  int shm = shmget(key_t(key), 4096, flags);
  if (shm < 0) {
    fprintf(stderr, "ipc_helper: shmget: %s\n", strerror(errno));
    return 1;
  }
  int sem = semget(key_t(key), 1, flags);
  if (sem < 0) {
    fprintf(stderr, "ipc_helper: semget: %s\n", strerror(errno));
    return 1;
  }
  int msg = msgget(key_t(key), flags);
  if (msg < 0) {
    fprintf(stderr, "ipc_helper: msgget: %s\n", strerror(errno));
    return 1;
  }
  printf("shm %d sem %d msg %d\n", shm, sem, msg);
  return 0;
}
