/* selfjournal.c: a daemon of the agent records itself in the lab's journal before it makes anything. */
void self_journal(const char *prog);
