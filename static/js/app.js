// Toasts dismiss themselves; destructive actions ask first; secrets copy with one click.
(function () {
  // A toast stays 6 s, not counting the time the pointer or the keyboard focus is on it.
  var TOAST_MS = 6000;
  function dismissLater(toast) {
    var left = TOAST_MS, started = Date.now(), timer = setTimeout(function () { toast.remove(); }, left);
    function pause() {
      if (!timer) return;
      clearTimeout(timer);
      timer = null;
      left -= Date.now() - started;
    }
    function resume() {
      if (timer || toast.matches(":hover, :focus-within")) return;
      started = Date.now();
      timer = setTimeout(function () { toast.remove(); }, Math.max(left, 1000));
    }
    toast.addEventListener("mouseenter", pause);
    toast.addEventListener("focusin", pause);
    toast.addEventListener("mouseleave", resume);
    toast.addEventListener("focusout", resume);
  }
  function wire(root) {
    root.querySelectorAll(".toast").forEach(function (toast) {
      if (toast.dataset.wired) return;
      toast.dataset.wired = "1";
      dismissLater(toast);
      var close = toast.querySelector("button");
      if (close) close.addEventListener("click", function () { toast.remove(); });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSettle", function (event) { wire(document); });

  // <form data-confirm="Revoke this key?" data-confirm-label="Revoke"> asks in a real dialog before submitting;
  // a form whose `action` select says delete asks its data-confirm-delete question.
  function confirmation(form) {
    var action = form.querySelector("select[name=action]");
    if (action && action.value === "delete" && form.getAttribute("data-confirm-delete")) {
      return {question: form.getAttribute("data-confirm-delete"), label: "Delete"};
    }
    var question = form.getAttribute("data-confirm");
    return question ? {question: question, label: form.getAttribute("data-confirm-label") || "Yes, continue"} : null;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var ask = confirmation(form);
    if (!ask || form.dataset.confirmed) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    var dialog = document.getElementById("confirm-dialog");
    dialog.querySelector("[data-question]").textContent = ask.question;
    dialog.querySelector("button[value=yes]").textContent = ask.label;
    dialog.showModal();
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue === "yes") {
        form.dataset.confirmed = "1";
        form.requestSubmit ? form.requestSubmit() : form.submit();
        delete form.dataset.confirmed;
      }
    });
  }, true);

  // <form data-submit-once> (a pull, a purchase) disables its buttons from the moment it is sent, so a double
  // click sends it once. The clicked button's name and value go with the form still, which a disabled button's
  // would not; coming back to the page from the browser's cache makes the form usable again.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !form.hasAttribute("data-submit-once")) return;
    if (form.dataset.submitting) {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
    if (event.submitter && event.submitter.name) {
      var carried = document.createElement("input");
      carried.type = "hidden";
      carried.name = event.submitter.name;
      carried.value = event.submitter.value;
      carried.setAttribute("data-submitter", "");
      form.appendChild(carried);
    }
    form.querySelectorAll("button:not([disabled]), input[type=submit]:not([disabled])").forEach(function (button) {
      button.disabled = true;
      button.setAttribute("data-disabled-while-sending", "");
    });
  });
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-submit-once][data-submitting]").forEach(function (form) {
      delete form.dataset.submitting;
      form.querySelectorAll("[data-submitter]").forEach(function (input) { input.remove(); });
      form.querySelectorAll("[data-disabled-while-sending]").forEach(function (button) {
        button.disabled = false;
        button.removeAttribute("data-disabled-while-sending");
      });
    });
  });

  // htmx sends nothing for a form the browser finds invalid (quality 500 where the most is 100): say why,
  // instead of leaving the old results standing as if they matched.
  document.addEventListener("htmx:validation:failed", function (event) {
    event.detail.elt.reportValidity();
  });

  // Esc closes the lead drawer, as its Close button does.
  document.addEventListener("keydown", function (event) {
    var drawer = document.getElementById("drawer");
    if (event.key === "Escape" && drawer && drawer.innerHTML.trim()) drawer.innerHTML = "";
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var text = document.getElementById(button.getAttribute("data-copy")).textContent.trim();
    navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
  });

  // Bulk actions: show only the inputs the chosen action uses.
  document.addEventListener("change", function (event) {
    if (!event.target.matches("[data-testid=bulk-action]")) return;
    var form = event.target.form;
    form.querySelectorAll("[data-for-actions]").forEach(function (input) {
      input.hidden = input.dataset.forActions.split(" ").indexOf(event.target.value) === -1;
    });
  });

  // A bulk action another app handles (Add to sequence) names its own address on its option.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var action = form.querySelector("[data-testid=bulk-action]");
    if (!action) return;
    if (!form.dataset.defaultAction) form.dataset.defaultAction = form.getAttribute("action");
    var option = action.selectedOptions[0];
    form.setAttribute("action", (option && option.dataset.actionUrl) || form.dataset.defaultAction);
  });

  // Inline handlers are refused by the Content-Security-Policy: these data attributes stand in for them.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-autosubmit]")) target.form.submit();
    if (target.matches("[data-select-all]")) {
      document.querySelectorAll("input[name=" + target.dataset.selectAll + "]").forEach(function (box) {
        box.checked = target.checked;
      });
    }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-drawer]")) document.getElementById("drawer").innerHTML = "";
  });

  // On a phone the main menu and the Marketplace's filters fold behind one button each.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-nav-toggle]");
    if (toggle) {
      var open = toggle.closest(".sidebar").classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    toggle = event.target.closest("[data-filters-toggle]");
    if (toggle) {
      var shown = document.getElementById(toggle.getAttribute("aria-controls")).classList.toggle("open");
      toggle.setAttribute("aria-expanded", shown ? "true" : "false");
    }
  });

  // Progress bars carry their percentage in data-progress; a style attribute would be refused too.
  function fill(root) {
    root.querySelectorAll("[data-progress]").forEach(function (bar) { bar.style.width = bar.dataset.progress + "%"; });
  }
  // htmx:afterSwap fires in the same task that inserts swapped content, so a bar is never seen without its width.
  document.addEventListener("DOMContentLoaded", function () { fill(document); });
  document.addEventListener("htmx:afterSwap", function () { fill(document); });

  // Live lists and checks ([data-live]) poll only while the tab is shown; the next tick after it shows again
  // catches up, so a tab left open all day costs nothing.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (document.hidden && event.detail.elt.hasAttribute("data-live")) event.preventDefault();
  });

  // "Send a test pageview" opens the page typed in its field, with the test's token added to the address, and
  // starts looking for it. The link opens the tab itself: htmx on the link would cancel its navigation.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-test-pageview]");
    if (!link) return;
    var input = document.getElementById(link.getAttribute("data-test-pageview"));
    try {
      var url = new URL(input.value.trim());
      if (url.protocol === "http:" || url.protocol === "https:") {
        url.searchParams.set("cursive_test", link.dataset.token);
        link.href = url.toString();
      }
    } catch (error) {
      // Not a full address: the prefilled home page opens instead.
    }
    htmx.trigger(document.getElementById(link.dataset.testArea), "test-sent");
  });

  // Server-sent toasts for htmx responses (HX-Trigger: {"toast": {...}}).
  document.addEventListener("toast", function (event) {
    var box = document.getElementById("toasts");
    var div = document.createElement("div");
    div.className = "toast " + (event.detail.level || "info");
    div.setAttribute("role", "status");
    div.innerHTML = "<span></span><button type='button' aria-label='Dismiss'>&times;</button>";
    div.querySelector("span").textContent = event.detail.message;
    box.appendChild(div);
    wire(box);
  });
})();
