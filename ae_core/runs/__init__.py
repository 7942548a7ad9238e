"""Runs, the unit of everything: the store (`store`), what a run trains (`spec`), training one in a
worker (`execute`), reading a finished one back without torch (`loaded`), the background job
manager (`jobs`), deleting runs (`housekeeping`), the run bundle (`export`) and the CSV upload flow
(`upload`)."""
