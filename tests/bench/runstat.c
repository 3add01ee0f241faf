/* Run a command N times and report the mean CPU time (user+sys) and the
 * mean and max peak RSS of the process tree each run, from wait4(2). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: runstat N command...\n");
		return 2;
	}
	int n = atoi(argv[1]);
	double cpu = 0, rss = 0;
	long maxrss = 0;
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		int st;
		struct rusage ru;
		if (wait4(p, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "runstat: run %d failed\n", i);
			return 1;
		}
		cpu += ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
		       ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
		rss += ru.ru_maxrss;
		if (ru.ru_maxrss > maxrss)
			maxrss = ru.ru_maxrss;
	}
	printf("%.3f %.0f %ld\n", cpu / n, rss / n, maxrss);
	return 0;
}
