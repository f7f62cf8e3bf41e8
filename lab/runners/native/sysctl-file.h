/* Applies a `sysctl -p` file in the calling task's network namespace (sysctl-file.c). */
int sysctl_apply_file(const char *who, const char *file);
