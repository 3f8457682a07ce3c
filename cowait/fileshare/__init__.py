"""The live file share: the caller's folder served over SFTP (jailed), for pods that mount it."""
