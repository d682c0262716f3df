// The Django admin's training-job page: the viewer's live job panel (shared/job_progress.js) in its
// "Live progress" fieldset. An external module, so the admin page needs no inline script.
import { jobPanel } from "../shared/job_progress.js";

const host = document.getElementById("live-progress");
if (host) host.append(jobPanel(Number(host.dataset.jobId)).element);
