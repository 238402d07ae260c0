"""Early stopping and the learning-rate schedule of the book's chapter 3.

Both watch one number after every epoch: the hits on the validation data (or, when
there is none, on the test data).  An epoch *improves* when it has more hits than every
epoch before it.

* ``early_stop=K``: training stops once K epochs in a row have not improved, and the
  network is put back exactly as it was after its best epoch (its parameters, and its
  momentum velocities if it has any).  Without early stopping, the last epoch's network
  is kept.
* ``lr_schedule=K``: η is halved once K epochs in a row have not improved since the last
  improvement or the last halving; training stops once η has fallen to η₀/128 (the
  exercise at the end of the chapter's section on hyper-parameters).

A Schedule's state is plain data (:meth:`state`), so a checkpoint can carry it and a
resumed run goes on exactly where it stopped.
"""

LAST_FRACTION = 128            # the schedule stops when η reaches η₀ / 128


class Schedule:
    def __init__(self, lr, early_stop=None, lr_schedule=None):
        self.lr0 = self.lr = lr
        self.early_stop, self.lr_schedule = early_stop, lr_schedule
        self.best_hits = self.best_epoch = None
        self.since_best = self.since_change = 0
        self.best = None               # (weights, biases, velocities) after the best epoch
        self.stopped = None            # why training stopped, once it has

    @property
    def active(self):
        return bool(self.early_stop or self.lr_schedule)

    def after_epoch(self, epoch, hits, engine):
        """Take the epoch's watched hits.  Returns the new η if it was just halved
        (else None); sets ``stopped`` when training must stop."""
        if self.best_hits is None or hits > self.best_hits:
            self.best_hits, self.best_epoch = hits, epoch
            self.since_best = self.since_change = 0
            if self.early_stop:
                weights, biases = engine.get_params()
                self.best = (weights, biases, engine.get_velocities())
            return None
        self.since_best += 1
        self.since_change += 1
        halved = None
        if self.lr_schedule and self.since_change >= self.lr_schedule:
            self.lr, self.since_change, halved = self.lr / 2, 0, self.lr / 2
            if self.lr <= self.lr0 / LAST_FRACTION:
                self.stopped = "η has fallen to η₀/%d" % LAST_FRACTION
        if self.early_stop and self.since_best >= self.early_stop:
            self.stopped = "no improvement in %d epoch%s" % (
                self.early_stop, "" if self.early_stop == 1 else "s")
        return halved

    def restore_best(self, engine):
        """Put the engine back as it was after the best epoch (with early stopping)."""
        if self.best is not None:
            weights, biases, velocities = self.best
            engine.set_params(weights, biases)
            if velocities is not None:
                engine.set_velocities(*velocities)

    # --- as plain data, for checkpoints -------------------------------------------

    FIELDS = ("lr0", "lr", "early_stop", "lr_schedule", "best_hits", "best_epoch",
              "since_best", "since_change", "best", "stopped")

    def state(self):
        return {k: getattr(self, k) for k in self.FIELDS}

    @classmethod
    def from_state(cls, state):
        schedule = cls(state["lr0"])
        for k in cls.FIELDS:
            setattr(schedule, k, state[k])
        return schedule
