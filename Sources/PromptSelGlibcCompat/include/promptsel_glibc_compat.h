/* No public interface: see glibc_compat.c. */
