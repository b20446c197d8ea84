"""The outbox domain: replies, the mailbox directory, and how an outgoing message is built."""
