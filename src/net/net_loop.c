/* net_loop.c - a thin epoll wrapper: each worker thread owns one loop. */
#include "net/net.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define NET_MAX_EVENTS 256

struct net_loop {
	int epfd;
	struct epoll_event events[NET_MAX_EVENTS];
};

struct net_loop *net_loop_new(void)
{
	struct net_loop *l = pgs_xcalloc(1, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void net_loop_free(struct net_loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

int net_loop_add(struct net_loop *l, int fd, struct net_watch *w, uint32_t extra)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET | extra,
				 .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? PGS_OK : PGS_ERR;
}

int net_loop_add_level(struct net_loop *l, int fd, struct net_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? PGS_OK : PGS_ERR;
}

int net_loop_mod(struct net_loop *l, int fd, struct net_watch *w)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? PGS_OK : PGS_ERR;
}

void net_loop_del(struct net_loop *l, int fd)
{
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int net_loop_run_once(struct net_loop *l, int timeout_ms)
{
	int n = epoll_wait(l->epfd, l->events, NET_MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		struct net_watch *w = l->events[i].data.ptr;
		w->fn(w->arg, l->events[i].events);
	}
	return n;
}
