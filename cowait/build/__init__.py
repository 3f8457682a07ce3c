"""Task images: render Dockerfile.task, assemble the build context, build, tag and push."""
